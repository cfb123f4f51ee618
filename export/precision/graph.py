"""The FP32 -> mixed FP16 graph rewrite: given the nodes that stay FP32, retype the rest.

onnxconverter-common's ``convert_float_to_float16`` (1.16) gets several things wrong on
image models, each shown by a test in tests/export/precision/: an existing
``Cast(to=FLOAT)`` inside an FP16 region is dropped by its cast clean-up and the model no
longer loads; Resize ``scales`` (float-only by the ONNX schema) are turned into FP16
unless every Resize is kept FP32; an initializer shared by an FP32 and an FP16 node is
left FP32 for both; weights above 1e4 are silently clamped. So the rewrite here reads
each op's type constraints from the ONNX schema (a position that cannot be FP16 stays
FP32), gives shared initializers one copy per precision, retargets existing Casts and
sorts the graph after inserting Casts. It reuses onnxconverter-common's tensor
conversion, with FP16's real finite range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ptx.errors import ExportError
from ptx.formats.onnx import tensor_types
from ptx.tensors import DTYPES

FLOAT, FLOAT16 = DTYPES["float32"].onnx, DTYPES["float16"].onnx
FP16_MAX = 65504.0
# Positions the schema would allow in FP16 but that carry coordinates, not pixels.
KEEP_FP32_INPUTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}


def name_nodes(model: Any) -> None:
    """Give every unnamed node a unique name, so reports and block lists can use it."""
    seen = {n.name for n in model.graph.node if n.name}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in seen:
                name += "_"
            node.name = name
            seen.add(name)


def constants_to_initializers(model: Any) -> None:
    """Turn float Constant nodes into initializers, so FP32 users keep the exact values."""
    from onnx import helper, numpy_helper

    g = model.graph
    outputs = {o.name for o in g.output}
    keep = []
    for node in g.node:
        attr = node.attribute[0] if node.op_type == "Constant" and node.attribute else None
        if attr is None or node.output[0] in outputs:
            keep.append(node)
            continue
        value = helper.get_attribute_value(attr)
        if attr.name == "value" and value.data_type == FLOAT:
            arr = numpy_helper.to_array(value)
        elif attr.name in ("value_float", "value_floats"):
            arr = np.asarray(value, dtype=np.float32)
        else:
            keep.append(node)
            continue
        g.initializer.append(numpy_helper.from_array(arr, node.output[0]))
    del g.node[:]
    g.node.extend(keep)


def _opset(model: Any, domain: str) -> int:
    for op in model.opset_import:
        if op.domain in (domain, "ai.onnx" if domain == "" else domain):
            return op.version
    return 1


def _allows_fp16(schema: Any, node: Any, index: int, is_input: bool) -> bool:
    """True when the schema lets this input/output position be float16."""
    if is_input and (node.op_type, index) in KEEP_FP32_INPUTS:
        return False
    formals = schema.inputs if is_input else schema.outputs
    if not formals:
        return False
    type_str = formals[min(index, len(formals) - 1)].type_str
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    return "tensor(float16)" in allowed.get(type_str, {type_str})


def _schema(model: Any, node: Any) -> Any | None:
    import onnx

    if node.domain not in ("", "ai.onnx"):
        return None
    try:
        return onnx.defs.get_schema(node.op_type, _opset(model, ""), "")
    except Exception:  # unknown op for this opset: leave it as it is
        return None


def _to_fp16_tensor(tensor: Any) -> Any:
    from onnxconverter_common.float16 import convert_tensor_float_to_float16

    return convert_tensor_float_to_float16(tensor, min_positive_val=6e-8, max_finite_val=FP16_MAX)


def _retype_attributes(node: Any) -> None:
    """Inside an FP16 node, Casts to float become Casts to half; float fill values become half."""
    for attr in node.attribute:
        if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
            attr.i = FLOAT16
        elif attr.HasField("t") and attr.t.data_type == FLOAT:
            attr.t.CopyFrom(_to_fp16_tensor(attr.t))


def float_types(model: Any) -> dict[str, int]:
    """``tensor_types`` with the gaps ONNX inference leaves filled from each op's schema.

    ONNX's inference stops at some function ops (GroupNormalization after another norm,
    for one) and every tensor downstream goes untyped; an output whose type variable an
    input shares takes that input's type.
    """
    types = tensor_types(model)
    for node in model.graph.node:
        if all(not o or o in types for o in node.output):
            continue
        schema = _schema(model, node)
        if schema is None or not schema.inputs or not schema.outputs:
            continue
        var: dict[str, int] = {}
        for i, name in enumerate(node.input):
            if name in types:
                var.setdefault(schema.inputs[min(i, len(schema.inputs) - 1)].type_str, types[name])
        for i, name in enumerate(node.output):
            kind = var.get(schema.outputs[min(i, len(schema.outputs) - 1)].type_str)
            if name and name not in types and kind:
                types[name] = kind
    return types


def _toposort(graph: Any) -> None:
    """Order nodes so each comes after the producers of its inputs (Kahn's algorithm)."""
    ready = {vi.name for vi in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            missing = sorted({i for n in rest for i in n.input if i not in ready})[:3]
            raise ExportError(f"FP16 rewrite left a cycle or dangling inputs {missing}")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def _rename_everywhere(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        for seq in (node.input, node.output):
            for i, name in enumerate(seq):
                if name == old:
                    seq[i] = new


class _Rewriter:
    """One pass over the graph that records each float tensor's precision and adds Casts."""

    def __init__(self, model: Any, types: dict[str, int], fp16_io: bool) -> None:
        self.model, self.g, self.types, self.fp16_io = model, model.graph, types, fp16_io
        self.inits = {t.name: t for t in self.g.initializer}
        self.produced: dict[str, int] = {}  # float tensor -> dtype it is produced in
        self.aliases: dict[tuple[str, int], str] = {}  # (tensor, dtype) -> converted name
        self.new_nodes: list[Any] = []
        self.casts = 0

    def want(self, name: str, dtype: int) -> str:
        """The name of ``name`` in ``dtype``, adding a Cast or an FP16 weight copy once."""
        have = self.produced.get(name)
        if have is None or have == dtype:
            return name
        key = (name, dtype)
        if key not in self.aliases:
            from onnx import helper

            suffix = "fp16" if dtype == FLOAT16 else "fp32"
            alias = f"{name}__{suffix}"
            if name in self.inits:
                half = _to_fp16_tensor(_copy(self.inits[name]))
                half.name = alias
                self.g.initializer.append(half)
            else:
                self.new_nodes.append(
                    helper.make_node("Cast", [name], [alias], to=dtype, name=f"{alias}_cast")
                )
                self.casts += 1
            self.aliases[key] = alias
        return self.aliases[key]

    def run(self, fp32_nodes: set[str]) -> None:
        """Retype every node, then the graph outputs; unused FP32 weights are dropped."""
        for vi in self.g.input:
            if self.types.get(vi.name) == FLOAT and vi.name not in self.inits:
                self.produced[vi.name] = FLOAT16 if self.fp16_io else FLOAT
                vi.type.tensor_type.elem_type = self.produced[vi.name]
        for t in self.g.initializer:
            if t.data_type == FLOAT:
                self.produced[t.name] = FLOAT
        for node in list(self.g.node):
            self._node(node, node.name not in fp32_nodes)
        self.g.node.extend(self.new_nodes)
        self._outputs()
        used = {i for n in self.g.node for i in n.input} | {o.name for o in self.g.output}
        for (name, _), alias in self.aliases.items():
            if name in self.inits and name not in used:  # only FP16 users: keep the old name
                _rename_everywhere(self.g, alias, name)
                next(t for t in self.g.initializer if t.name == alias).name = name
                self.inits[name].name = f"{name}__unused"
        used = {i for n in self.g.node for i in n.input} | {o.name for o in self.g.output}
        keep = [t for t in self.g.initializer if t.name in used]
        del self.g.initializer[:]
        self.g.initializer.extend(keep)
        del self.g.value_info[:]
        _toposort(self.g)

    def _node(self, node: Any, half: bool) -> None:
        schema = _schema(self.model, node) if half else None
        half = schema is not None
        for i, name in enumerate(node.input):
            if name and self.types.get(name) == FLOAT:
                fp16 = half and _allows_fp16(schema, node, i, True)
                node.input[i] = self.want(name, FLOAT16 if fp16 else FLOAT)
        for i, name in enumerate(node.output):
            if self.types.get(name) == FLOAT:
                fp16 = half and _allows_fp16(schema, node, i, False)
                self.produced[name] = FLOAT16 if fp16 else FLOAT
        if half:
            _retype_attributes(node)

    def _outputs(self) -> None:
        from onnx import helper

        target = FLOAT16 if self.fp16_io else FLOAT
        for out in self.g.output:
            have = self.produced.get(out.name)
            if have is None:
                continue
            if have != target:
                inner = f"{out.name}__{'fp16' if have == FLOAT16 else 'fp32'}"
                _rename_everywhere(self.g, out.name, inner)
                self.g.node.append(
                    helper.make_node("Cast", [inner], [out.name], to=target, name=f"{inner}_out")
                )
                self.casts += 1
            out.type.tensor_type.elem_type = target


def _copy(tensor: Any) -> Any:
    import onnx

    copy = onnx.TensorProto()
    copy.CopyFrom(tensor)
    return copy


def rewrite_fp16(model: Any, fp32_nodes: set[str], types: dict[str, int], fp16_io: bool) -> int:
    """Retype ``model`` in place: every float node not in ``fp32_nodes`` becomes FP16.

    Returns the number of Casts added. The result is checked with strict ONNX type
    inference, so an inconsistent graph fails here, not in a runtime later.
    """
    import onnx

    for node in model.graph.node:
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            raise ExportError(
                f"node '{node.name}' ({node.op_type}) has a sub-graph; ptx's FP16 rewrite does "
                "not handle control flow: keep this model FP32 or use --autocast modelopt"
            )
    rewriter = _Rewriter(model, types, fp16_io)
    rewriter.run(fp32_nodes)
    from onnx import helper

    declared = {vi.name for vi in [*model.graph.input, *model.graph.output]}
    declared |= {t.name for t in model.graph.initializer}
    produced = {o for n in model.graph.node for o in n.output}
    model.graph.value_info.extend(  # what inference cannot see, the rewrite states
        helper.make_tensor_value_info(name, dtype, None)
        for name, dtype in rewriter.produced.items()
        if name in produced and name not in declared
    )
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, check_type=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[-1][:300]
        raise ExportError(f"FP16 rewrite produced an inconsistent graph: {first}") from exc
    del model.graph.value_info[:]
    model.graph.value_info.extend(inferred.graph.value_info)
    return rewriter.casts


def node_precisions(model: Any) -> dict[str, str]:
    """Node name -> "fp16" / "fp32" (type of its first float output), "cast" or "other"."""
    types = float_types(model)
    out: dict[str, str] = {}
    for i, node in enumerate(model.graph.node):
        kinds = [types.get(o) for o in node.output if types.get(o) in (FLOAT, FLOAT16)]
        if node.op_type == "Cast":
            label = "cast"
        else:
            label = "other" if not kinds else ("fp16" if kinds[0] == FLOAT16 else "fp32")
        out[node.name or f"{node.op_type}_{i}"] = label
    return out


def emulate_fp16(model: Any) -> Any:
    """An FP32 copy of an FP16 model that rounds every FP16 tensor through FP16 where it is made.

    ONNX Runtime's CPU provider has FP16 kernels for few ops; for the rest it computes in
    FP32 and drops the Casts between such nodes, so an FP16 tensor that overflows (or
    loses precision) on a GPU never does on the CPU. Rounding each FP16 tensor with a
    Cast pair in an FP32 graph (pairs ORT keeps) reproduces FP16 storage with FP32 maths,
    which is what TensorRT and CUDA kernels do.
    """
    import onnx
    from onnx import helper, numpy_helper

    types = float_types(model)
    emu = onnx.ModelProto()
    emu.CopyFrom(model)
    g = emu.graph
    for t in list(g.initializer):
        if t.data_type == FLOAT16:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name))
    for vi in [*g.input, *g.output]:
        if vi.type.tensor_type.elem_type == FLOAT16:
            vi.type.tensor_type.elem_type = FLOAT
    nodes = []
    for node in g.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT16:
                attr.i = FLOAT
            elif attr.HasField("t") and attr.t.data_type == FLOAT16:
                arr = numpy_helper.to_array(attr.t).astype(np.float32)
                attr.t.CopyFrom(numpy_helper.from_array(arr, attr.t.name))
        nodes.append(node)
        for i, out in enumerate(node.output):
            if types.get(out) == FLOAT16:
                node.output[i] = f"{out}__emu32"
                nodes.append(
                    helper.make_node("Cast", [node.output[i]], [f"{out}__emu16"], to=FLOAT16)
                )
                nodes.append(helper.make_node("Cast", [f"{out}__emu16"], [out], to=FLOAT))
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return emu
