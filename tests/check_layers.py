#!/usr/bin/env python3
"""Checks that every #include "..." in reel's library points down the layer map, never up.

    check_layers.py [REPO_ROOT]     exit 0 when every include is allowed, 1 (and one line per
                                    violation) otherwise
    check_layers.py --self-test [REPO_ROOT]
                                    proves the check can fail: runs it on a copy of the tree with
                                    a wrong-way include and an unclassified file added

The layers, their rules and the reasons are in docs/architecture.md ("Layers and arrows"). Each
file is classified by the MAP below: a path, or "folder/*" for every file directly in a folder
that is one layer. A file the map doesn't classify is an error, so a new file (or a new folder)
must be given a layer on purpose. Only quoted includes of reel's own files are checked; system
headers (<...>) are not, except that xtensor is allowed only in the interop layer, since the
library itself does not depend on it.

Python 3 standard library only: run by CTest as the test `layers`.
"""
import os
import re
import shutil
import sys
import tempfile

# name -> (what it is, the layers its files may include besides its own)
LAYERS = {
    "contract": ("backend contract and vocabulary", []),
    "reference": ("reference backend", ["contract"]),
    "cpu": ("CPU backend", ["contract", "reference"]),  # delegates what it has no fast path for
    "cuda": ("CUDA backend", ["contract"]),
    "core": ("tensor core", ["contract"]),
    "tape": ("autograd tape", ["contract", "core"]),
    "ops": ("tensor ops", ["contract", "core", "tape"]),
    "engine": ("autograd engine", ["contract", "core", "tape", "ops"]),
    "nn": ("nn", ["contract", "core", "tape", "ops", "engine"]),
    # data/: datasets, the DataLoader, collates (issue 8); beside nn, whose helpers it may use.
    "data": ("data", ["contract", "core", "tape", "ops", "engine", "nn"]),
    # serialize/: safetensors files and training checkpoints (modules, optimizers, loaders).
    "serialize": ("serialize", ["contract", "core", "tape", "ops", "engine", "nn", "data"]),
    # distributed/: process groups (MPI, NCCL), DistributedDataParallel, DistributedSampler
    # (issue 12); above nn and data, whose modules and samplers it extends. The NCCL group
    # enqueues on the CUDA backend's one stream, so it may include the cuda layer's runtime.
    "distributed": ("distributed", ["contract", "core", "tape", "ops", "engine", "nn", "data",
                                    "cuda"]),
    # Opt-in headers with an outside dependency: nothing in the library may include them.
    "interop": ("xtensor interop", ["contract", "core"]),
    # reel.hpp: the one-include API; never the backend internals or the opt-in interop.
    "umbrella": ("reel.hpp", ["contract", "core", "tape", "ops", "engine", "nn", "data",
                              "serialize", "distributed"]),
}

MAP = {
    # backends/: the contract, and the vocabulary types it needs (DESIGN.md forbids a backend
    # from including tensor/, so they live beside it).
    "backends/*": "contract",
    "backends/reference/*": "reference",
    "backends/cpu/*": "cpu",
    "backends/cuda/*": "cuda",
    # tensor/: the core, file by file (the ops share the folder, a layer above autograd's tape).
    "tensor/device.hpp": "core",
    "tensor/storage.hpp": "core",
    "tensor/tensor.hpp": "core",
    "tensor/tensor.cpp": "core",
    "tensor/creation.cpp": "core",
    "tensor/generator.hpp": "core",
    "tensor/generator.cpp": "core",
    "tensor/print.cpp": "core",
    "tensor/npy.hpp": "core",
    "tensor/npy.cpp": "core",
    "tensor/npy_header.hpp": "core",
    "tensor/npy_header.cpp": "core",
    "tensor/runtime.hpp": "core",
    "tensor/runtime.cpp": "core",
    "tensor/cuda_graph.hpp": "core",
    "tensor/cuda_graph.cpp": "core",
    "tensor/xtensor.hpp": "interop",
    "tensor/ops.hpp": "ops",
    "tensor/ops/*": "ops",
    # autograd/: what an op needs to record (below the ops), and what runs the tape backward
    # (above them: it sums gradients with the ops).
    "autograd/grad_mode.hpp": "tape",
    "autograd/node.hpp": "tape",
    "autograd/record.hpp": "tape",
    "autograd/record.cpp": "tape",
    "autograd/engine.hpp": "engine",
    "autograd/engine.cpp": "engine",
    "autograd/gradcheck.hpp": "engine",
    "autograd/gradcheck.cpp": "engine",
    "nn/*": "nn",
    "nn/functional/*": "nn",
    "nn/optim/*": "nn",  # optimizers and learning-rate schedulers (issue 7)
    "nn/unit_scaling/*": "nn",  # unit-scaled layers and u-muP optimizers (issue 9)
    "data/*": "data",
    "data/datasets/*": "data",
    "serialize/*": "serialize",
    "distributed/*": "distributed",
    "reel.hpp": "umbrella",
}

SCANNED_DIRS = ("backends", "tensor", "autograd", "nn", "data", "serialize", "distributed")
SCANNED_FILES = ("reel.hpp",)
EXTENSIONS = (".hpp", ".cpp", ".cu", ".cuh", ".h")
QUOTED = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
XTENSOR = re.compile(r'^\s*#\s*include\s*<(xtensor|xtl)/')


def layer_of(path):
    """The layer of a repository-relative path (forward slashes), or None."""
    if path in MAP:
        return MAP[path]
    return MAP.get(os.path.dirname(path) + "/*")


def describe(layer):
    return f"{LAYERS[layer][0]} ({layer})"


def source_files(root):
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(EXTENSIONS):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
    for name in SCANNED_FILES:
        if os.path.exists(os.path.join(root, name)):
            yield name


def check(root):
    """Returns the list of violations (strings) in the tree at `root`."""
    errors = []
    for entry in MAP:
        if not entry.endswith("/*") and not os.path.exists(os.path.join(root, entry)):
            errors.append(f"layer map: '{entry}' is listed but does not exist (moved or removed?)")
    for path in source_files(root):
        layer = layer_of(path)
        if layer is None:
            errors.append(f"{path}: not in the layer map (tests/check_layers.py): give it a layer")
            continue
        allowed = [layer] + LAYERS[layer][1]
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        for number, line in enumerate(lines, 1):
            if XTENSOR.match(line) and layer != "interop":
                errors.append(f"{path}:{number}: includes xtensor ({line.strip()}), an optional "
                              f"dependency only the interop layer (tensor/xtensor.hpp) may use")
            m = QUOTED.match(line)
            if not m:
                continue
            target = m.group(1)
            # reel includes its own headers relative to the repository root; a path relative
            # to the including file is accepted too.
            candidates = [target, os.path.normpath(os.path.join(os.path.dirname(path), target))]
            found = next((c.replace(os.sep, "/") for c in candidates
                          if os.path.isfile(os.path.join(root, c))), None)
            if found is None:
                errors.append(f'{path}:{number}: includes "{target}", which is not a file of '
                              f"the repository")
                continue
            target_layer = layer_of(found)
            if target_layer is None:
                errors.append(f'{path}:{number}: includes "{target}", which is not in the layer '
                              f"map (tests/check_layers.py)")
            elif target_layer not in allowed:
                errors.append(
                    f'{path}:{number}: includes "{target}": {describe(layer)} -> '
                    f"{describe(target_layer)} points the wrong way; {layer} may include only "
                    f"{', '.join(allowed)}")
    return errors


def self_test(root):
    """Copies the tree, adds one wrong-way include and one unclassified file, and checks that
    both are reported (and that the unmodified copy passes)."""
    with tempfile.TemporaryDirectory() as tmp:
        for top in SCANNED_DIRS:
            if os.path.isdir(os.path.join(root, top)):
                shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        for name in SCANNED_FILES:
            shutil.copy(os.path.join(root, name), os.path.join(tmp, name))
        clean = check(tmp)
        if clean:
            print("self-test: the unmodified copy should pass but did not:", *clean, sep="\n  ")
            return 1
        with open(os.path.join(tmp, "tensor", "tensor.cpp"), "a", encoding="utf-8") as f:
            f.write('#include "autograd/record.hpp"\n')
        with open(os.path.join(tmp, "backends", "reference", "unary.cpp"), "a",
                  encoding="utf-8") as f:
            f.write('#include "backends/cpu/thread_pool.hpp"\n')
        with open(os.path.join(tmp, "autograd", "unclassified.cpp"), "w", encoding="utf-8") as f:
            f.write('#include "autograd/record.hpp"\n')
        errors = check(tmp)
        expected = [
            ('tensor/tensor.cpp', '"autograd/record.hpp": tensor core (core) -> autograd tape '
                                  '(tape) points the wrong way'),
            ('backends/reference/unary.cpp', 'reference backend (reference) -> CPU backend (cpu)'),
            ('autograd/unclassified.cpp', 'not in the layer map'),
        ]
        missing = [e for e in expected if not any(e[0] in x and e[1] in x for x in errors)]
        if missing or len(errors) != len(expected):
            print("self-test: expected exactly these violations:", *expected, "got:", *errors,
                  sep="\n  ")
            return 1
        print("self-test: the check reports a wrong-way include and an unclassified file:")
        for e in errors:
            print("  " + e)
        return 0


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    if "--self-test" in argv[1:]:
        return self_test(root)
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"layers: {len(errors)} include(s) against the layer map "
              "(docs/architecture.md, \"Layers and arrows\")")
        return 1
    count = sum(1 for _ in source_files(root))
    print(f"layers: {count} files, every include points down the layer map")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
