"""torch_ref.py -- PyTorch references for the zoo's ResNets and DenseNets.

torchvision is not needed: its ResNet and DenseNet modules are copied here by
hand (same attribute names, so the same state_dict keys); the CIFAR models
come from shared/bench/pytorch/bench.py (ResNetCifar = W3, DenseNetBC = W4).
Run with a Python that has torch (e.g. /usr/bin/python3, PyTorch 1.13):

  torch_ref.py names MODEL          sorted "name [shape]" lines and "#params N";
                                    diff with `zoo_dump MODEL | sort`
  torch_ref.py compare MODEL SIZE FILE
                                    loads FILE written by `zoo_dump MODEL SIZE FILE`
                                    into the PyTorch module and compares eval logits

MODEL: resnet18/34/50/101/152, densenet121/169/201, resnet20/32/44/56/110
(option B), densenet-bc100, densenet-bc40 (nnc: densenet-bc with depth=40).
"""
import os, sys
from collections import OrderedDict
import torch, torch.nn as nn, torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'shared', 'bench', 'pytorch'))
sys.path.insert(0, '/work/shared/bench/pytorch')


def conv3x3(i, o, s=1): return nn.Conv2d(i, o, 3, s, 1, bias=False)
def conv1x1(i, o, s=1): return nn.Conv2d(i, o, 1, s, bias=False)


class BasicBlock(nn.Module):
    expansion = 1
    def __init__(s, inp, planes, stride=1, downsample=None):
        super().__init__()
        s.conv1, s.bn1, s.relu = conv3x3(inp, planes, stride), nn.BatchNorm2d(planes), nn.ReLU()
        s.conv2, s.bn2, s.downsample = conv3x3(planes, planes), nn.BatchNorm2d(planes), downsample
    def forward(s, x):
        o = s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x)))))
        return F.relu(o + (x if s.downsample is None else s.downsample(x)))


class Bottleneck(nn.Module):  # torchvision v1.5: stride on the 3x3
    expansion = 4
    def __init__(s, inp, planes, stride=1, downsample=None):
        super().__init__()
        s.conv1, s.bn1 = conv1x1(inp, planes), nn.BatchNorm2d(planes)
        s.conv2, s.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        s.conv3, s.bn3 = conv1x1(planes, planes * 4), nn.BatchNorm2d(planes * 4)
        s.relu, s.downsample = nn.ReLU(), downsample
    def forward(s, x):
        o = F.relu(s.bn1(s.conv1(x)))
        o = F.relu(s.bn2(s.conv2(o)))
        o = s.bn3(s.conv3(o))
        return F.relu(o + (x if s.downsample is None else s.downsample(x)))


class ResNet(nn.Module):
    def __init__(s, block, layers, nc=1000):
        super().__init__()
        s.inplanes = 64
        s.conv1, s.bn1, s.relu = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU()
        s.maxpool = nn.MaxPool2d(3, 2, 1)
        s.layer1 = s._make(block, 64, layers[0])
        s.layer2 = s._make(block, 128, layers[1], 2)
        s.layer3 = s._make(block, 256, layers[2], 2)
        s.layer4 = s._make(block, 512, layers[3], 2)
        s.avgpool, s.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(512 * block.expansion, nc)
    def _make(s, block, planes, blocks, stride=1):
        ds = None
        if stride != 1 or s.inplanes != planes * block.expansion:
            ds = nn.Sequential(conv1x1(s.inplanes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion))
        layers = [block(s.inplanes, planes, stride, ds)]
        s.inplanes = planes * block.expansion
        layers += [block(s.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)
    def forward(s, x):
        x = s.maxpool(F.relu(s.bn1(s.conv1(x))))
        x = s.layer4(s.layer3(s.layer2(s.layer1(x))))
        return s.fc(torch.flatten(s.avgpool(x), 1))


class _DenseLayer(nn.Module):
    def __init__(s, nin, gr, bs):
        super().__init__()
        s.norm1, s.relu1, s.conv1 = nn.BatchNorm2d(nin), nn.ReLU(), nn.Conv2d(nin, bs * gr, 1, 1, bias=False)
        s.norm2, s.relu2, s.conv2 = nn.BatchNorm2d(bs * gr), nn.ReLU(), nn.Conv2d(bs * gr, gr, 3, 1, 1, bias=False)
    def forward(s, x):
        o = s.conv2(F.relu(s.norm2(s.conv1(F.relu(s.norm1(x))))))
        return torch.cat([x, o], 1)


class _Transition(nn.Sequential):
    def __init__(s, nin, nout):
        super().__init__()
        s.add_module('norm', nn.BatchNorm2d(nin))
        s.add_module('relu', nn.ReLU())
        s.add_module('conv', nn.Conv2d(nin, nout, 1, 1, bias=False))
        s.add_module('pool', nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    def __init__(s, gr=32, bc=(6, 12, 24, 16), ni=64, bs=4, nc=1000):
        super().__init__()
        s.features = nn.Sequential(OrderedDict([('conv0', nn.Conv2d(3, ni, 7, 2, 3, bias=False)), ('norm0', nn.BatchNorm2d(ni)),
                                                ('relu0', nn.ReLU()), ('pool0', nn.MaxPool2d(3, 2, 1))]))
        nf = ni
        for i, n in enumerate(bc):
            block = nn.Sequential(OrderedDict(('denselayer%d' % (j + 1), _DenseLayer(nf + j * gr, gr, bs)) for j in range(n)))
            s.features.add_module('denseblock%d' % (i + 1), block)
            nf += n * gr
            if i != len(bc) - 1:
                s.features.add_module('transition%d' % (i + 1), _Transition(nf, nf // 2))
                nf //= 2
        s.features.add_module('norm5', nn.BatchNorm2d(nf))
        s.classifier = nn.Linear(nf, nc)
    def forward(s, x):
        x = F.relu(s.features(x))
        return s.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def models():
    import bench
    return {
        'resnet18': lambda: ResNet(BasicBlock, [2, 2, 2, 2]), 'resnet34': lambda: ResNet(BasicBlock, [3, 4, 6, 3]),
        'resnet50': lambda: ResNet(Bottleneck, [3, 4, 6, 3]), 'resnet101': lambda: ResNet(Bottleneck, [3, 4, 23, 3]),
        'resnet152': lambda: ResNet(Bottleneck, [3, 8, 36, 3]),
        'densenet121': lambda: DenseNet(32, (6, 12, 24, 16)), 'densenet169': lambda: DenseNet(32, (6, 12, 32, 32)),
        'densenet201': lambda: DenseNet(32, (6, 12, 48, 32)),
        'resnet20': lambda: bench.ResNetCifar(3), 'resnet32': lambda: bench.ResNetCifar(5), 'resnet44': lambda: bench.ResNetCifar(7),
        'resnet56': lambda: bench.ResNetCifar(9), 'resnet110': lambda: bench.ResNetCifar(18),
        'densenet-bc100': lambda: bench.DenseNetBC(100, 12), 'densenet-bc40': lambda: bench.DenseNetBC(40, 12),
    }


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ('names', 'compare'):
        sys.exit(__doc__)
    m = models()[sys.argv[2]]()
    if sys.argv[1] == 'names':
        lines = ['%s %s' % (k, list(v.shape)) for k, v in m.state_dict().items()]
        print('#params %d' % sum(p.numel() for p in m.parameters()))
        print('\n'.join(sorted(lines)))
        return
    size, path = int(sys.argv[3]), sys.argv[4]
    vals = {}
    for line in open(path):
        p = line.split()
        vals[p[0]] = [float(v) for v in p[2:]]
    sd = OrderedDict()
    for k, v in m.state_dict().items():
        sd[k] = v if k.endswith('num_batches_tracked') else torch.tensor(vals[k], dtype=torch.float32).reshape(v.shape)
    m.load_state_dict(sd)
    m.eval()
    x = torch.tensor(vals['@input'], dtype=torch.float32).reshape(2, 3, size, size)
    with torch.no_grad():
        y = m(x).flatten()
    d = (y - torch.tensor(vals['@logits'])).abs().max().item()
    print('%s %dx%d: max |logit difference| %.3g (max |logit| %.3g)' % (sys.argv[2], size, size, d, y.abs().max().item()))
    sys.exit(0 if d <= 1e-4 * max(1.0, y.abs().max().item()) else 1)


if __name__ == '__main__':
    main()
