"""torch_ref_cnn.py -- PyTorch references for the zoo's classic CNNs: alexnet,
alexnet-paper, zfnet, vgg11/13/16/19 (and -bn), nin, googlenet, googlenet-paper
(option aux=1: MODEL+aux, e.g. googlenet+aux, for `names` only).

torchvision is not needed: its modules are written here by hand with the same
attribute names (so the same state_dict keys); the forward passes are written
with torch.nn.functional on the state dict and follow torchvision (real
AdaptiveAvgPool2d) and the papers. Small inputs follow nnc's documented stem
adaptations (pools skipped below the classifier's map, stride-1 stems), so
`compare` at 32 or 28 checks that nnc's uniform-window pooling equals
PyTorch's adaptive pooling there. Same protocol as torch_ref.py; run with a
Python that has torch (e.g. /usr/bin/python3, PyTorch 1.13):

  torch_ref_cnn.py names MODEL         sorted "name [shape]" lines and "#params N";
                                       diff with `zoo_dump MODEL | sort`
  torch_ref_cnn.py compare MODEL SIZE FILE
                                       FILE written by `zoo_dump MODEL SIZE FILE`;
                                       compares the eval-mode logits (zoo_dump writes
                                       text: fine for nin and googlenet*, about 1 GB
                                       for the 60M-140M parameter AlexNets and VGGs)
"""
import sys
import torch, torch.nn as nn, torch.nn.functional as F


class BasicConv2d(nn.Module):
    def __init__(s, i, o, **kw):
        super().__init__(); s.conv = nn.Conv2d(i, o, bias=False, **kw); s.bn = nn.BatchNorm2d(o, eps=0.001)
class Inception(nn.Module):
    def __init__(s, i, c1, c3r, c3, c5r, c5, pp, paper=False):
        super().__init__()
        C = (lambda a, b, **kw: nn.Conv2d(a, b, **kw)) if paper else (lambda a, b, **kw: BasicConv2d(a, b, **kw))
        s.branch1 = C(i, c1, kernel_size=1)
        s.branch2 = nn.Sequential(C(i, c3r, kernel_size=1), C(c3r, c3, kernel_size=3, padding=1))
        s.branch3 = nn.Sequential(C(i, c5r, kernel_size=1), C(c5r, c5, kernel_size=5 if paper else 3, padding=2 if paper else 1))
        s.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), C(i, pp, kernel_size=1))
class Aux(nn.Module):
    def __init__(s, i, nc, paper=False):
        super().__init__(); s.conv = nn.Conv2d(i, 128, 1) if paper else BasicConv2d(i, 128, kernel_size=1)
        s.fc1 = nn.Linear(2048, 1024); s.fc2 = nn.Linear(1024, nc)
class GoogLeNet(nn.Module):
    def __init__(s, nc=1000, aux=False, paper=False):
        super().__init__()
        C = (lambda a, b, **kw: nn.Conv2d(a, b, **kw)) if paper else (lambda a, b, **kw: BasicConv2d(a, b, **kw))
        s.conv1 = C(3, 64, kernel_size=7, stride=2, padding=3); s.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        s.conv2 = C(64, 64, kernel_size=1); s.conv3 = C(64, 192, kernel_size=3, padding=1)
        s.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        I = lambda *a: Inception(*a, paper=paper)
        s.inception3a = I(192, 64, 96, 128, 16, 32, 32); s.inception3b = I(256, 128, 128, 192, 32, 96, 64)
        s.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        s.inception4a = I(480, 192, 96, 208, 16, 48, 64); s.inception4b = I(512, 160, 112, 224, 24, 64, 64)
        s.inception4c = I(512, 128, 128, 256, 24, 64, 64); s.inception4d = I(512, 112, 144, 288, 32, 64, 64)
        s.inception4e = I(528, 256, 160, 320, 32, 128, 128); s.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        s.inception5a = I(832, 256, 160, 320, 32, 128, 128); s.inception5b = I(832, 384, 192, 384, 48, 128, 128)
        if aux: s.aux1 = Aux(512, nc, paper); s.aux2 = Aux(528, nc, paper)
        s.fc = nn.Linear(1024, nc)
def alexnet_m(nc=1000):
    f = nn.Sequential(nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    m = nn.Module(); m.features = f
    m.classifier = nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, nc))
    return m
def alexnet_paper_m(nc=1000):
    f = nn.Sequential(nn.Conv2d(3, 96, 11, 4, 2), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
    m = nn.Module(); m.features = f
    m.classifier = nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, nc))
    return m
def zfnet_m(nc=1000):
    f = nn.Sequential(nn.Conv2d(3, 96, 7, 2, 1), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5),
        nn.Conv2d(96, 256, 5, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    m = nn.Module(); m.features = f
    m.classifier = nn.Sequential(nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, nc))
    return m


def vgg_m(cfg, bn, nc=1000):
    L = []; c = 3
    for v in cfg:
        if v == 'M': L.append(nn.MaxPool2d(2, 2)); continue
        L.append(nn.Conv2d(c, v, 3, padding=1)); L += [nn.BatchNorm2d(v)] if bn else []; L.append(nn.ReLU()); c = v
    m = nn.Module(); m.features = nn.Sequential(*L)
    m.classifier = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, nc))
    return m
def nin_m(nc=10):
    m = nn.Module()
    for n, i, o, k in [('conv1', 3, 192, 5), ('cccp1', 192, 160, 1), ('cccp2', 160, 96, 1), ('conv2', 96, 192, 5), ('cccp3', 192, 192, 1),
                       ('cccp4', 192, 192, 1), ('conv3', 192, 192, 3), ('cccp5', 192, 192, 1), ('cccp6', 192, nc, 1)]:
        setattr(m, n, nn.Conv2d(i, o, k))
    return m


W = None
SMALL = False


def conv(x, n, stride=1, pad=0, groups=1):
    return F.conv2d(x, W[n + '.weight'], W.get(n + '.bias'), stride, pad, 1, groups)


def lin(x, n): return F.linear(x, W[n + '.weight'], W[n + '.bias'])


def bn(x, n, eps): return F.batch_norm(x, W[n + '.running_mean'], W[n + '.running_var'], W[n + '.weight'], W[n + '.bias'], False, 0.1, eps)


def lrn_paper(x, k): return F.local_response_norm(x, 5, alpha=1e-4 * 5, beta=0.75, k=k)  # AlexNet's alpha, not divided by n


def pool_out(n, k, s, p, ceil):
    if n + 2 * p < k: return 0
    span = n + 2 * p - k
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + p: o -= 1
    return o


def maxpool(x, k, s, p=0, ceil=False, min_out=1):
    """nnc's rule: a pool whose output would be smaller than min_out is skipped"""
    if min(pool_out(x.shape[2], k, s, p, ceil), pool_out(x.shape[3], k, s, p, ceil)) < min_out: return x
    return F.max_pool2d(x, k, s, p, ceil_mode=ceil)


def classifier(x):
    x = torch.flatten(x, 1); x = F.relu(lin(x, 'classifier.1')); x = F.relu(lin(x, 'classifier.4'))
    return lin(x, 'classifier.6')


def alexnet(x):
    x = maxpool(F.relu(conv(x, 'features.0', 4, 2)), 3, 2, min_out=6)
    x = maxpool(F.relu(conv(x, 'features.3', 1, 2)), 3, 2, min_out=6)
    x = F.relu(conv(x, 'features.6', 1, 1)); x = F.relu(conv(x, 'features.8', 1, 1))
    x = maxpool(F.relu(conv(x, 'features.10', 1, 1)), 3, 2, min_out=6)
    return classifier(F.adaptive_avg_pool2d(x, 6))


def alexnet_paper(x):
    x = maxpool(lrn_paper(F.relu(conv(x, 'features.0', 4, 2)), 2), 3, 2, min_out=6)
    x = maxpool(lrn_paper(F.relu(conv(x, 'features.4', 1, 2, 2)), 2), 3, 2, min_out=6)
    x = F.relu(conv(x, 'features.8', 1, 1)); x = F.relu(conv(x, 'features.10', 1, 1, 2))
    x = maxpool(F.relu(conv(x, 'features.12', 1, 1, 2)), 3, 2, min_out=6)
    return classifier(x)


def zfnet(x):
    x = lrn_paper(maxpool(F.relu(conv(x, 'features.0', 1 if SMALL else 2, 3 if SMALL else 1)), 3, 2, 0, True, 6), 2)
    x = lrn_paper(maxpool(F.relu(conv(x, 'features.4', 1 if SMALL else 2, 2 if SMALL else 0)), 3, 2, 0, True, 6), 2)
    x = F.relu(conv(x, 'features.8', 1, 1)); x = F.relu(conv(x, 'features.10', 1, 1))
    x = maxpool(F.relu(conv(x, 'features.12', 1, 1)), 3, 2, min_out=6)
    return classifier(x)


def nin(x):
    r = lambda x, n, p=0: F.relu(conv(x, n, 1, p))
    x = r(r(r(x, 'conv1', 2), 'cccp1'), 'cccp2'); x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = r(r(r(x, 'conv2', 2), 'cccp3'), 'cccp4'); x = F.avg_pool2d(x, 3, 2, ceil_mode=True)
    x = r(r(r(x, 'conv3', 1), 'cccp5'), 'cccp6')
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def vgg_fwd(cfg, has_bn):
    def f(x):
        i = 0
        for v in cfg:
            if v == 'M': x = maxpool(x, 2, 2, min_out=7); i += 1; continue
            x = conv(x, 'features.%d' % i, 1, 1); i += 1
            if has_bn: x = bn(x, 'features.%d' % i, 1e-5); i += 1
            x = F.relu(x); i += 1
        x = torch.flatten(F.adaptive_avg_pool2d(x, 7), 1)
        x = F.relu(lin(x, 'classifier.0')); x = F.relu(lin(x, 'classifier.3')); return lin(x, 'classifier.6')
    return f


def googlenet_fwd(paper):
    def bc(x, n, stride=1, pad=0):
        if paper: return F.relu(conv(x, n, stride, pad))
        return F.relu(bn(conv(x, n + '.conv', stride, pad), n + '.bn', 1e-3))

    def inc(x, n):
        b1 = bc(x, n + '.branch1'); b2 = bc(bc(x, n + '.branch2.0'), n + '.branch2.1', 1, 1)
        b3 = bc(bc(x, n + '.branch3.0'), n + '.branch3.1', 1, 2 if paper else 1)
        b4 = bc(F.max_pool2d(x, 3, 1, 1, ceil_mode=True), n + '.branch4.1'); return torch.cat([b1, b2, b3, b4], 1)

    def f(x):
        x = bc(x, 'conv1', 1 if SMALL else 2, 3)
        if not SMALL: x = maxpool(x, 3, 2, 0, True)
        if paper: x = F.local_response_norm(x, 5, 1e-4, 0.75, 1.0)
        x = bc(bc(x, 'conv2'), 'conv3', 1, 1)
        if paper: x = F.local_response_norm(x, 5, 1e-4, 0.75, 1.0)
        x = maxpool(x, 3, 2, 0, True)
        x = inc(inc(x, 'inception3a'), 'inception3b'); x = maxpool(x, 3, 2, 0, True)
        for n in 'abcde': x = inc(x, 'inception4' + n)
        x = maxpool(x, 3, 2, 0, True) if paper else maxpool(x, 2, 2, 0, True)
        x = inc(inc(x, 'inception5a'), 'inception5b')
        return lin(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1), 'fc')  # paper: avgpool 7x7/1 = global at 224
    return f


cfgs = {'vgg11': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
        'vgg13': [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
        'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
        'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']}


def models():
    m = {'alexnet': (alexnet_m, alexnet), 'alexnet-paper': (alexnet_paper_m, alexnet_paper), 'zfnet': (zfnet_m, zfnet),
         'nin': (nin_m, nin), 'googlenet': (lambda: GoogLeNet(), googlenet_fwd(False)),
         'googlenet-paper': (lambda: GoogLeNet(paper=True), googlenet_fwd(True)),
         'googlenet+aux': (lambda: GoogLeNet(aux=True), None), 'googlenet-paper+aux': (lambda: GoogLeNet(aux=True, paper=True), None)}
    for k, v in cfgs.items():
        m[k] = ((lambda v=v: vgg_m(v, False)), vgg_fwd(v, False))
        m[k + '-bn'] = ((lambda v=v: vgg_m(v, True)), vgg_fwd(v, True))
    return m


def main():
    global W, SMALL
    if len(sys.argv) < 3 or sys.argv[1] not in ('names', 'compare'):
        sys.exit(__doc__)
    make, fwd = models()[sys.argv[2]]
    m = make()
    if sys.argv[1] == 'names':
        lines = ['%s %s' % (k, list(v.shape)) for k, v in m.state_dict().items()]
        print('#params %d' % sum(p.numel() for p in m.parameters()))
        print('\n'.join(sorted(lines)))
        return
    size, path = int(sys.argv[3]), sys.argv[4]
    SMALL = size < 64
    vals = {}
    for line in open(path):
        p = line.split()
        vals[p[0]] = [float(v) for v in p[2:]]
    W = {}
    for k, v in m.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            W[k] = torch.tensor(vals[k], dtype=torch.float32).reshape(v.shape)
    chans = W[[k for k in W if k.endswith('weight')][0]].shape[1]
    x = torch.tensor(vals['@input'], dtype=torch.float32).reshape(2, chans, size, size)
    with torch.no_grad():
        y = fwd(x).flatten()
    d = (y - torch.tensor(vals['@logits'])).abs().max().item()
    print('%s %dx%d: max |logit difference| %.3g (max |logit| %.3g)' % (sys.argv[2], size, size, d, y.abs().max().item()))
    sys.exit(0 if d <= 1e-4 * max(1.0, y.abs().max().item()) else 1)


if __name__ == '__main__':
    main()
