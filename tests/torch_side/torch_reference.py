"""PyTorch side of the equivalence proof; runs in the PyTorch venv only (`make test-torch`).

Builds a torchvision or timm model *by those libraries* with random weights,
sets every batch norm's affine parameters and running statistics to random
non-trivial values (and scales the classifier so that logits are well
separated), saves the state dict as ``.pth`` (``torch.save``) or
``.safetensors``, and writes the model's logits on the given NHWC inputs.
With ``--state-npz`` the weights come from a NumPy state dict instead (the
golden outputs of the default suite). The Keras side reads nothing but the
files written here: no PyTorch is imported by keras_convnets.

    python torch_reference.py --library torchvision --model resnet50 --format pth \
        --inputs in.npz --out-dir DIR [--seed 0] [--state-npz sd.npz]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch


def build(library: str, model: str):
    if library == "torchvision":
        import torchvision

        if model == "googlenet":
            return torchvision.models.googlenet(
                weights=None, aux_logits=False, transform_input=True, init_weights=True
            )
        if model == "inception_v3":  # as with its weights: transform_input, aux head present
            return torchvision.models.inception_v3(
                weights=None, aux_logits=True, transform_input=True, init_weights=True
            )
        return torchvision.models.get_model(model, weights=None)
    import timm

    return timm.create_model(model, pretrained=False)


# Networks whose batch norms have no scale in the released weights (TF-slim's scale=False, kept
# as a weight of 1 by timm's port) and in our keras.applications-layout model.
UNIT_BN_SCALE = {"inception_resnet_v2"}


@torch.no_grad()
def randomize(net, seed: int, *, unit_scale: bool = False):
    g = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.copy_(torch.ones(n) if unit_scale else 0.5 + torch.rand(n, generator=g))
            module.bias.copy_(0.2 * torch.randn(n, generator=g))
            module.running_mean.copy_(0.2 * torch.randn(n, generator=g))
            module.running_var.copy_(0.5 + torch.rand(n, generator=g))


@torch.no_grad()
def calibrate(net, x):
    """Scales the classifier so that the logits' standard deviation is 3.

    Random deep networks give logits of any scale: too small and the top-5 is a
    tie that rounding can flip, too large and every softmax is one-hot (and
    max |delta prob| says nothing). A standard deviation of 3 avoids both.
    """
    fc = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    std = float(net(x[:16]).std())
    fc.weight.mul_(3.0 / std)
    fc.bias.mul_(3.0 / std)


def save(net, fmt: str, out_dir: str) -> str:
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = os.path.join(out_dir, "state.safetensors")
        save_file(state, path)
    else:
        path = os.path.join(out_dir, "state.pth")
        torch.save(net.state_dict(), path)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--library", choices=("torchvision", "timm"), required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--format", choices=("pth", "safetensors"), default="pth")
    parser.add_argument("--inputs", required=True, help="npz with x: NHWC float32")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state-npz", default=None, help="load this NumPy state dict instead")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    net = build(args.library, args.model).eval()
    if args.state_npz:
        with np.load(args.state_npz) as f:
            state = {k: torch.from_numpy(f[k]) for k in f.files}
        net.load_state_dict(state, strict=True)
    with np.load(args.inputs) as f:
        x = torch.from_numpy(np.ascontiguousarray(f["x"].transpose(0, 3, 1, 2)))
    if not args.state_npz:
        randomize(net, args.seed, unit_scale=args.model in UNIT_BN_SCALE)
        calibrate(net, x)
    path = save(net, args.format, args.out_dir)
    with torch.no_grad():
        logits = torch.cat([net(chunk) for chunk in x.split(16)]).numpy()
    np.savez(os.path.join(args.out_dir, "torch_out.npz"), logits=logits)
    print(path)


if __name__ == "__main__":
    main()
