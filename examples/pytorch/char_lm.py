"""A WaveNet-style character language model in PyTorch: the twin of examples/char_lm.cpp.

Same corpus (the fortunes package's files in sorted order, concatenated; the last 10% held
out), same model and hyper-parameters as the reel example; reports bits per character on the
held-out text and samples/s.  Run with Debian's python3-torch:

  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 \
      /usr/bin/python3 examples/pytorch/char_lm.py --steps 1000
"""
import argparse, glob, math, os, time
import torch, torch.nn as nn, torch.nn.functional as F


def corpus(folder, heldout_fraction):
    files = sorted(p for p in glob.glob(os.path.join(folder, '*'))
                   if os.path.isfile(p) and not p.endswith('.dat') and not p.endswith('.u8'))
    data = b''.join(open(p, 'rb').read() for p in files)
    vocab = sorted(set(data))
    lut = {b: i for i, b in enumerate(vocab)}
    t = torch.tensor([lut[b] for b in data], dtype=torch.int64)
    n_held = int(len(data) * heldout_fraction)
    return t[:len(data) - n_held], t[len(data) - n_held:], bytes(vocab)


class GatedBlock(nn.Module):
    def __init__(self, c, dilation):
        super().__init__()
        self.pad = dilation  # (k - 1) * dilation with k = 2: causal left padding
        self.conv = nn.Conv1d(c, 2 * c, 2, dilation=dilation)
        self.proj = nn.Conv1d(c, c, 1)

    def forward(self, x):
        h = self.conv(F.pad(x, (self.pad, 0)))
        a, b = h.chunk(2, dim=1)
        return x + self.proj(torch.tanh(a) * torch.sigmoid(b))


class CharWaveNet(nn.Module):
    def __init__(self, vocab, c, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, c)
        self.blocks = nn.Sequential(*[GatedBlock(c, 2 ** i) for i in range(layers)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(c, c, 1), nn.ReLU(), nn.Conv1d(c, vocab, 1))

    def forward(self, ids):                          # ids [B, L] -> logits [B, V, L]
        return self.head(self.blocks(self.embed(ids).transpose(1, 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/usr/share/games/fortunes')
    ap.add_argument('--channels', type=int, default=64)
    ap.add_argument('--layers', type=int, default=8)      # dilations 1..128: receptive field 256
    ap.add_argument('--window', type=int, default=256)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--steps', type=int, default=1000)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--eval-chars', type=int, default=50000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--max-steps', type=int, default=-1)  # stop early (the schedule still spans --steps)
    ap.add_argument('--log-every', type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train, held, vocab = corpus(a.data, 0.1)
    # The reel example prints the same line: equal sizes and first ids mean the same corpus.
    print(f'corpus: {len(train)} train + {len(held)} held-out characters, vocabulary {len(vocab)}; '
          f'held-out starts {" ".join(str(int(i)) for i in held[:8])}', flush=True)
    model = CharWaveNet(len(vocab), a.channels, a.layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.steps)
    g = torch.Generator().manual_seed(a.seed)
    print(f'model: {a.layers} gated blocks, {a.channels} channels, receptive field {2 ** a.layers}, '
          f'{sum(p.numel() for p in model.parameters())} parameters; {torch.get_num_threads()} threads',
          flush=True)
    last_step = min(a.steps, a.max_steps) if a.max_steps >= 0 else a.steps
    t0 = time.time()
    t_log, logged, loss_sum = t0, 0, 0.0
    for step in range(1, last_step + 1):
        starts = torch.randint(0, len(train) - a.window - 1, (a.batch,), generator=g)
        idx = starts[:, None] + torch.arange(a.window + 1)[None, :]
        chunk = train[idx]
        loss = F.cross_entropy(model(chunk[:, :-1]), chunk[:, 1:])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        loss_sum += loss.item()
        if step % a.log_every == 0 or step == last_step:
            rate = (step - logged) * a.batch / (time.time() - t_log)
            print(f'step {step:5d}/{a.steps}  train {loss_sum / (step - logged) / math.log(2):.3f} bpc  '
                  f'lr {sched.get_last_lr()[0]:.2e}  {rate:.1f} samples/s ({rate * a.window:.0f} chars/s)',
                  flush=True)
            t_log, logged, loss_sum = time.time(), step, 0.0
    wall = time.time() - t0
    print(f'trained {last_step} steps in {wall:.1f} s: {last_step * a.batch / wall:.1f} samples/s', flush=True)
    # Held-out bits per character: chunks of `window` scored with the preceding
    # receptive-field characters as context.
    model.eval()
    rf = 2 ** a.layers
    text = held[: a.eval_chars + 1]
    nll, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(text) - 1, a.window):
            lo = max(0, s - (rf - 1))
            e = min(s + a.window, len(text) - 1)
            logits = model(text[lo:e][None])
            tgt = text[lo + 1:e + 1][None]
            ce = F.cross_entropy(logits, tgt, reduction='none')[0, s - lo:]
            nll += ce.sum().item(); count += ce.numel()
    print(f'held-out: {nll / count / math.log(2):.4f} bpc over {count} characters')


if __name__ == '__main__':
    main()
