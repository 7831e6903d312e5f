#!/usr/bin/env python3
"""PyTorch checkpoints as torch.save writes them, for Tests/EngineTests/TorchCheckpointTests.swift and
Tests/NNTests/TorchCheckpointLoadTests.swift (the restricted unpickler in Sources/Engine/TorchCheckpoint/).

    scripts/tools-env.sh python3 tools/goldens/torch_checkpoints.py

Writes Tests/TestSupport/Fixtures/torch_checkpoints/:
  dtypes.pt              state dict with one tensor per dtype torch stores (f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool),
                         a 0-d scalar, an empty tensor, an nn.Parameter (pickled through _rebuild_parameter) and
                         a tensor and a parameter with Python attributes (_rebuild_from_type_v2, _with_state)
  views.pt               tensors sharing one storage: the base, a row (offset), a transpose, a slice with offset,
                         a strided slice, an expand (stride 0), plus a second storage
  nested.ckpt            {'state_dict': {'module.<key>': …}, 'epoch': 3, …} as DataParallel training code saves it
  protocol4.pt           dtypes.pt's dict pickled with protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
  legacy.pt              the pre-1.6 format (_use_new_zipfile_serialization=False) of dtypes + views
  linear.bin             nn.Linear(4, 3).state_dict() (for Module.load(contentsOf:) in NNTests)
  sharded/               pytorch_model-0000{1,2}-of-00002.bin + pytorch_model.bin.index.json (transformers' layout)
  zip64.pt               views.pt re-packed with zip64 central-directory fields and end records (as > 4 GiB files have)
  big_endian.pt          dtypes.pt with archive/byteorder rewritten to "big"            -> refused
  deflated.pt            dtypes.pt re-packed with deflate compression                     -> refused
  truncated_storage.pt   dtypes.pt with one storage entry cut short                        -> refused
  malicious_system.pt    data.pkl calls os.system('touch <marker>') through __reduce__    -> refused (posix.system)
  malicious_eval.pt      protocol 4, data.pkl calls builtins.eval('…touch <marker>…')     -> refused (builtins.eval)
  expected.safetensors   the expected contiguous tensors, keys `<fixture stem>/<key>`; metadata: torch version,
                         marker paths, the non-tensor keys of nested.ckpt

Writing the malicious files only pickles the payload (its __reduce__ returns a callable and arguments); nothing runs.
Inputs are seeded; storage keys and zip timestamps may differ between runs.
"""
import io
import json
import os
import struct
import zipfile
import zlib
from collections import OrderedDict

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TestSupport", "Fixtures", "torch_checkpoints")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
expected = {}


def path(name):
    return os.path.join(OUT, name)


def expect(stem, state):
    for key, value in state.items():
        expected[f"{stem}/{key}"] = value.detach().contiguous().clone()


# --- every dtype ---------------------------------------------------------------------------------------------------
dtypes = OrderedDict()
dtypes["f32"] = torch.randn(3, 4)
dtypes["f16"] = torch.randn(2, 5).half()
dtypes["bf16"] = torch.randn(4, 3).bfloat16()
dtypes["f64"] = torch.randn(2, 3, dtype=torch.float64)
dtypes["i64"] = torch.randint(-2**40, 2**40, (5,), dtype=torch.int64)
dtypes["i32"] = torch.randint(-2**30, 2**30, (2, 2), dtype=torch.int32)
dtypes["i16"] = torch.randint(-2**15, 2**15 - 1, (3,), dtype=torch.int16)
dtypes["i8"] = torch.randint(-128, 127, (2, 3), dtype=torch.int8)
dtypes["u8"] = torch.randint(0, 255, (2, 2, 2), dtype=torch.uint8)
dtypes["bool"] = torch.rand(7) > 0.5
dtypes["scalar"] = torch.tensor(2.75)
dtypes["empty"] = torch.zeros(0, 4)
dtypes["param"] = torch.nn.Parameter(torch.randn(2, 2))
# Python attributes on a tensor or parameter change how it pickles: torch._tensor._rebuild_from_type_v2 and
# torch._utils._rebuild_parameter_with_state, with the attributes as state (ignored by the reader).
dtypes["tagged"] = torch.randn(3)
dtypes["tagged"].note = "attribute"
dtypes["tagged_param"] = torch.nn.Parameter(torch.randn(2))
dtypes["tagged_param"].note = "attribute"
torch.save(dtypes, path("dtypes.pt"))
expect("dtypes", dtypes)

# --- shared storages and views -------------------------------------------------------------------------------------
base = torch.arange(48, dtype=torch.float32).reshape(6, 8) * 0.5 - 3
views = OrderedDict()
views["base"] = base
views["row"] = base[2]                      # offset 16
views["transposed"] = base.t()              # stride (1, 8)
views["slice"] = base[1:4, 2:7]             # offset 10, stride (8, 1)
views["strided"] = base[::2, 1::3]          # offset 1, stride (16, 3)
views["expanded"] = base[5:6, :3].expand(4, 3)  # stride (0, 1)
views["other"] = torch.randn(3, 2).t()      # a second storage, transposed
torch.save(views, path("views.pt"))
expect("views", views)

# --- a training checkpoint: nested, DataParallel prefixes, non-tensor entries --------------------------------------
inner = OrderedDict()
inner["module.linear.weight"] = torch.randn(3, 4)
inner["module.linear.bias"] = torch.randn(3)
inner["module.norm.running_mean"] = torch.randn(3)
inner["module.norm.num_batches_tracked"] = torch.tensor(7)
torch.save({"state_dict": inner, "epoch": 3, "optimizer_name": "adam", "lr": 1e-4, "config": {"depth": 2, "names": ["a", "b"]}},
           path("nested.ckpt"))
expect("nested", OrderedDict((k[len("module."):], v) for k, v in inner.items()))

# --- protocol 4 ----------------------------------------------------------------------------------------------------
torch.save(dtypes, path("protocol4.pt"), pickle_protocol=4)

# --- legacy format -------------------------------------------------------------------------------------------------
legacy = OrderedDict()
for key in ["f32", "f16", "bf16", "i64", "u8", "bool", "scalar", "empty", "param"]:
    legacy[key] = dtypes[key]
for key in ["base", "row", "transposed", "slice", "strided", "expanded"]:
    legacy[key] = views[key]
torch.save(legacy, path("legacy.pt"), _use_new_zipfile_serialization=False)
expect("legacy", legacy)

# --- a plain module state dict, named like a Hugging Face / open_clip download -------------------------------------
linear = torch.nn.Linear(4, 3)
torch.save(linear.state_dict(), path("linear.bin"))
expect("linear", linear.state_dict())


# --- a sharded checkpoint: two torch.save files and the transformers index ------------------------------------------
os.makedirs(path("sharded"), exist_ok=True)
shards = {"pytorch_model-00001-of-00002.bin": OrderedDict([("embed.weight", torch.randn(5, 4)), ("layer.0.weight", torch.randn(4, 4))]),
          "pytorch_model-00002-of-00002.bin": OrderedDict([("layer.1.weight", torch.randn(4, 4)), ("head.bias", torch.randn(2))])}
weight_map = {}
for name, state in shards.items():
    torch.save(state, path(f"sharded/{name}"))
    weight_map.update({key: name for key in state})
    expect("sharded", state)
with open(path("sharded/pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": sum(v.nbytes for s in shards.values() for v in s.values())}, "weight_map": weight_map},
              f, indent=2, sort_keys=True)


# --- re-packed archives --------------------------------------------------------------------------------------------
def entries(source):
    with zipfile.ZipFile(source) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def repack(source, target, edit=lambda name, data: data, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(target, "w", compression=compression) as z:
        for name, data in entries(source):
            z.writestr(name, edit(name, data))


def write_zip64(source, target):
    """Stored entries with every size and offset in zip64 extra fields (0xFFFFFFFF in the 32-bit fields), a zip64 end
    of central directory record and its locator: the layout of archives past 4 GiB, at a size that fits in a test."""
    out = io.BytesIO()
    central = []
    for name, data in entries(source):
        offset = out.tell()
        raw = name.encode()
        crc = zlib.crc32(data)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(extra)))
        out.write(raw + extra + data)
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(raw), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + raw + cextra)
    cd_offset = out.tell()
    for record in central:
        out.write(record)
    cd_size = out.tell() - cd_offset
    zip64_offset = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central), cd_size, cd_offset))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with open(target, "wb") as f:
        f.write(out.getvalue())


write_zip64(path("views.pt"), path("zip64.pt"))
assert all(torch.equal(a, b) for a, b in zip(torch.load(path("zip64.pt")).values(), views.values()))
repack(path("dtypes.pt"), path("big_endian.pt"), lambda name, data: b"big" if name.endswith("/byteorder") else data)
repack(path("dtypes.pt"), path("deflated.pt"), compression=zipfile.ZIP_DEFLATED)
# The first storage torch writes (key "0") is f32 [3, 4]: 48 bytes, cut to 20.
repack(path("dtypes.pt"), path("truncated_storage.pt"), lambda name, data: data[:20] if name.endswith("/data/0") else data)


# --- malicious pickles ---------------------------------------------------------------------------------------------
token = os.urandom(6).hex()
system_marker = f"/tmp/dancegrpo-pwned-{token}-system"
eval_marker = f"/tmp/dancegrpo-pwned-{token}-eval"


class SystemPayload:
    def __reduce__(self):
        return (os.system, (f"touch {system_marker}",))


class EvalPayload:
    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {eval_marker}')",))


torch.save({"weight": torch.ones(2), "payload": SystemPayload()}, path("malicious_system.pt"))
torch.save({"weight": torch.ones(2), "payload": EvalPayload()}, path("malicious_eval.pt"), pickle_protocol=4)
assert not os.path.exists(system_marker) and not os.path.exists(eval_marker)

save_file(expected, path("expected.safetensors"), metadata={
    "torch": torch.__version__,
    "generator": "tools/goldens/torch_checkpoints.py",
    "system_marker": system_marker,
    "eval_marker": eval_marker,
    "nested_skipped": "config,epoch,lr,optimizer_name",
})
files = [os.path.join(d, f) for d, _, names in os.walk(OUT) for f in names]
print(f"wrote {len(files)} files ({sum(os.path.getsize(f) for f in files)} bytes) to {OUT}")
