"""TFLite model metadata: what MediaPipe Tasks and LiteRT tooling read from inside the file.

The metadata is the ``ModelMetadata`` flatbuffer of the TFLite metadata schema
(``metadata_schema.fbs``, file identifier ``M001``, published with
tflite-support and MediaPipe): name, description, version, author, licence; per
input tensor its colour space, size, value range and, where the normalisation
is not in the graph, ``NormalizationOptions`` (mean, std); per output tensor a
description, the probability range and the labels as an associated file
(``TENSOR_AXIS_LABELS``). It is stored as tflite-support's populator stores it:
a buffer of the model named ``TFLITE_METADATA`` in ``Model.metadata``, and the
associated files appended to the flatbuffer as an uncompressed zip archive.

Why written here: MediaPipe's own Python writers
(``mediapipe.tasks.python.metadata.metadata_writers``) fail to import in
mediapipe 1.2.3 (``No module named 'mediapipe.tasks.cc'``), and ``tflite-support``
0.4.4, the last release, pins ``protobuf<4`` while TensorFlow 2.21 needs a
newer one. The schema subset an image classifier uses is small, so this module
builds it with the ``flatbuffers`` package (field slots as numbered in the
schema) and edits the model with LiteRT's own generated schema
(``ai_edge_litert.schema_py_generated``).

Example::

    info = ClassifierMetadata(name="ResNet-20", labels=["a", "b"], ...)
    with_metadata = attach(model_bytes, info)
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import numpy as np

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
TFLITE_IDENTIFIER = b"TFL3"
# None of the features used here needs a parser newer than the schema's first version.
MIN_PARSER_VERSION = "1.0.0"

# Enum and union values of metadata_schema.fbs.
_COLOR_SPACE = {"RGB": 1, "GRAYSCALE": 2}
_CONTENT_FEATURE, _CONTENT_IMAGE = 1, 2
_UNIT_NORMALIZATION = 1
_FILE_TENSOR_AXIS_LABELS = 2


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's metadata. ``image``: ``(color_space, width, height)`` for an image input."""

    name: str
    description: str
    value_range: tuple | None  # (min, max) of the values the tensor carries
    image: tuple | None = None
    normalization: tuple | None = None  # ((mean per channel), (std per channel))
    labels_file: str | None = None


@dataclass(frozen=True)
class ClassifierMetadata:
    """Everything the file says about itself (one input, one output)."""

    name: str
    description: str
    version: str
    author: str
    license: str
    input: TensorInfo
    output: TensorInfo
    labels: list = field(default_factory=list)


# ----------------------------------------------------------------------------- flatbuffer


def _strings(builder, **values):
    return {k: builder.CreateString(v) for k, v in values.items() if v is not None}


def _table_vector(builder, offsets):
    builder.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        builder.PrependUOffsetTRelative(off)
    return builder.EndVector()


def _float_vector(builder, values):
    builder.StartVector(4, len(values), 4)
    for v in reversed(values):
        builder.PrependFloat32(float(v))
    return builder.EndVector()


def _associated_labels(builder, name):
    s = _strings(builder, name=name, description="Class names, one a line, in output order.")
    builder.StartObject(5)  # AssociatedFile
    builder.PrependUOffsetTRelativeSlot(0, s["name"], 0)
    builder.PrependUOffsetTRelativeSlot(1, s["description"], 0)
    builder.PrependInt8Slot(2, _FILE_TENSOR_AXIS_LABELS, 0)
    return builder.EndObject()


def _content(builder, image):
    if image is None:
        builder.StartObject(0)  # FeatureProperties
        props, kind = builder.EndObject(), _CONTENT_FEATURE
    else:
        color, width, height = image
        builder.StartObject(2)  # ImageSize
        builder.PrependUint32Slot(0, int(width), 0)
        builder.PrependUint32Slot(1, int(height), 0)
        size = builder.EndObject()
        builder.StartObject(2)  # ImageProperties
        builder.PrependInt8Slot(0, _COLOR_SPACE[color], 0)
        builder.PrependUOffsetTRelativeSlot(1, size, 0)
        props, kind = builder.EndObject(), _CONTENT_IMAGE
    builder.StartObject(3)  # Content
    builder.PrependUint8Slot(0, kind, 0)
    builder.PrependUOffsetTRelativeSlot(1, props, 0)
    return builder.EndObject()


def _normalization_unit(builder, normalization):
    mean, std = (_float_vector(builder, v) for v in normalization)
    builder.StartObject(2)  # NormalizationOptions
    builder.PrependUOffsetTRelativeSlot(0, mean, 0)
    builder.PrependUOffsetTRelativeSlot(1, std, 0)
    options = builder.EndObject()
    builder.StartObject(2)  # ProcessUnit
    builder.PrependUint8Slot(0, _UNIT_NORMALIZATION, 0)
    builder.PrependUOffsetTRelativeSlot(1, options, 0)
    return builder.EndObject()


def _stats(builder, value_range):
    lo, hi = (_float_vector(builder, [v]) for v in value_range)
    builder.StartObject(2)  # Stats
    builder.PrependUOffsetTRelativeSlot(0, hi, 0)
    builder.PrependUOffsetTRelativeSlot(1, lo, 0)
    return builder.EndObject()


def _tensor(builder, info: TensorInfo):
    s = _strings(builder, name=info.name, description=info.description)
    content = _content(builder, info.image)
    units = None
    if info.normalization is not None:
        units = _table_vector(builder, [_normalization_unit(builder, info.normalization)])
    stats = None if info.value_range is None else _stats(builder, info.value_range)
    files = None
    if info.labels_file is not None:
        files = _table_vector(builder, [_associated_labels(builder, info.labels_file)])
    builder.StartObject(7)  # TensorMetadata
    builder.PrependUOffsetTRelativeSlot(0, s["name"], 0)
    builder.PrependUOffsetTRelativeSlot(1, s["description"], 0)
    builder.PrependUOffsetTRelativeSlot(3, content, 0)
    if units is not None:
        builder.PrependUOffsetTRelativeSlot(4, units, 0)
    if stats is not None:
        builder.PrependUOffsetTRelativeSlot(5, stats, 0)
    if files is not None:
        builder.PrependUOffsetTRelativeSlot(6, files, 0)
    return builder.EndObject()


def build_buffer(info: ClassifierMetadata) -> bytes:
    """The ``ModelMetadata`` flatbuffer (identifier ``M001``) of ``info``."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    inputs = _table_vector(builder, [_tensor(builder, info.input)])
    outputs = _table_vector(builder, [_tensor(builder, info.output)])
    builder.StartObject(10)  # SubGraphMetadata
    builder.PrependUOffsetTRelativeSlot(2, inputs, 0)
    builder.PrependUOffsetTRelativeSlot(3, outputs, 0)
    subgraph = builder.EndObject()
    subgraphs = _table_vector(builder, [subgraph])
    s = _strings(
        builder,
        name=info.name,
        description=info.description,
        version=info.version,
        author=info.author,
        license=info.license,
        min_parser_version=MIN_PARSER_VERSION,
    )
    builder.StartObject(8)  # ModelMetadata
    builder.PrependUOffsetTRelativeSlot(0, s["name"], 0)
    builder.PrependUOffsetTRelativeSlot(1, s["description"], 0)
    builder.PrependUOffsetTRelativeSlot(2, s["version"], 0)
    builder.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    builder.PrependUOffsetTRelativeSlot(4, s["author"], 0)
    builder.PrependUOffsetTRelativeSlot(5, s["license"], 0)
    builder.PrependUOffsetTRelativeSlot(7, s["min_parser_version"], 0)
    builder.Finish(builder.EndObject(), METADATA_IDENTIFIER)
    return bytes(builder.Output())


# ----------------------------------------------------------------------------- model file


def attach(content: bytes, info: ClassifierMetadata) -> bytes:
    """``content`` (a .tflite without metadata) with ``info`` inside and the labels appended.

    Raises ``ValueError`` if the model already carries metadata or has more than
    one input or output (the classifier metadata describes exactly one of each).
    """
    from ai_edge_litert import schema_py_generated as schema

    if zipfile.is_zipfile(io.BytesIO(content)):
        raise ValueError("The model already has associated files; attach metadata once.")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    graph = model.subgraphs[0]
    if len(model.subgraphs) != 1 or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError(
            "Classifier metadata describes one subgraph with one input and one output. "
            f"Received: {len(model.subgraphs)} subgraph(s), {len(graph.inputs)} input(s), "
            f"{len(graph.outputs)} output(s)."
        )
    if any(m.name.decode() == METADATA_NAME for m in model.metadata or []):
        raise ValueError(f"The model already has a {METADATA_NAME!r} entry.")
    for buffer in model.buffers:
        if buffer.offset > 1:
            # Data stored after the flatbuffer (the AI Edge Quantizer writes files so):
            # back inside, since repacking moves everything the offsets point at.
            start = buffer.offset
            buffer.data = np.frombuffer(content[start : start + buffer.size], np.uint8)
            buffer.offset, buffer.size = 0, 0
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(build_buffer(info), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    import flatbuffers

    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), TFLITE_IDENTIFIER)
    out = io.BytesIO(bytes(builder.Output()))
    out.seek(0, io.SEEK_END)
    if info.output.labels_file is not None:
        # Stored, not deflated: MediaPipe's extractor reads associated files in place.
        with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(info.output.labels_file, "\n".join(info.labels) + "\n")
    return out.getvalue()


def metadata_buffer(content: bytes) -> bytes | None:
    """The ``TFLITE_METADATA`` buffer of a .tflite file, or None."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == METADATA_NAME:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def associated_files(content: bytes) -> dict:
    """``{name: bytes}`` of the files appended to a .tflite file."""
    if not zipfile.is_zipfile(io.BytesIO(content)):
        return {}
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# ----------------------------------------------------------------------------- reading


class _Table:
    """A flatbuffer table read by field slot (enough to show what :func:`build_buffer` wrote)."""

    def __init__(self, buf, pos):
        from flatbuffers.table import Table

        self.t = Table(buf, pos)

    def _off(self, slot):
        return self.t.Offset(4 + 2 * slot)

    def string(self, slot):
        off = self._off(slot)
        return self.t.String(off + self.t.Pos).decode() if off else None

    def int8(self, slot):
        from flatbuffers import number_types

        off = self._off(slot)
        return self.t.Get(number_types.Int8Flags, off + self.t.Pos) if off else 0

    def table(self, slot):
        off = self._off(slot)
        return _Table(self.t.Bytes, self.t.Indirect(off + self.t.Pos)) if off else None

    def tables(self, slot):
        off = self._off(slot)
        if not off:
            return []
        start = self.t.Vector(off)
        return [
            _Table(self.t.Bytes, self.t.Indirect(start + 4 * i))
            for i in range(self.t.VectorLen(off))
        ]

    def floats(self, slot):
        off = self._off(slot)
        if not off:
            return None
        start, n = self.t.Vector(off), self.t.VectorLen(off)
        return np.frombuffer(bytes(self.t.Bytes[start : start + 4 * n]), "<f4").tolist()


def _read_tensor(t: _Table) -> dict:
    content = t.table(3)
    out = {"name": t.string(0), "description": t.string(1)}
    if content is not None and content.int8(0) == _CONTENT_IMAGE:
        image = content.table(1)
        color = {v: k for k, v in _COLOR_SPACE.items()}.get(image.int8(0), "UNKNOWN")
        out["color_space"] = color
    units = [u.table(1) for u in t.tables(4) if u.int8(0) == _UNIT_NORMALIZATION]
    if units:
        out["normalization"] = {"mean": units[0].floats(0), "std": units[0].floats(1)}
    stats = t.table(5)
    if stats is not None:
        out["range"] = [stats.floats(1)[0], stats.floats(0)[0]]
    out["associated_files"] = [f.string(0) for f in t.tables(6)]
    return out


def read(content: bytes) -> dict | None:
    """The metadata of a .tflite file as a dict (the fields this module writes), or None."""
    from flatbuffers import encode, packer

    buf = metadata_buffer(content)
    if buf is None:
        return None
    if buf[4:8] != METADATA_IDENTIFIER:
        raise ValueError(f"The {METADATA_NAME} buffer is not a ModelMetadata flatbuffer.")
    root = _Table(bytearray(buf), encode.Get(packer.uoffset, bytearray(buf), 0))
    graph = root.tables(3)[0]
    return {
        "name": root.string(0),
        "description": root.string(1),
        "version": root.string(2),
        "author": root.string(4),
        "license": root.string(5),
        "min_parser_version": root.string(7),
        "inputs": [_read_tensor(t) for t in graph.tables(2)],
        "outputs": [_read_tensor(t) for t in graph.tables(3)],
    }
