"""CPU capabilities from /proc/cpuinfo text: detected, never assumed."""

from __future__ import annotations

from ptx.runtime.cpu import cpu_capabilities, cpu_flags, cpu_model

SAPPHIRE = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu avx2 fma avx512f avx512_bf16 avx512_fp16 avx512_vnni amx_bf16 amx_tile amx_int8
"""
EPYC = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu avx2 fma
"""
ARM = """processor\t: 0
Features\t: fp asimd bf16 i8mm
"""


def test_matrix_and_vector_units_are_read_from_the_flags() -> None:
    intel = cpu_capabilities(SAPPHIRE)
    assert intel["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert intel["matrix"] == ["amx_tile", "amx_bf16", "amx_int8"]
    assert "avx512_fp16" in intel["vector"] and "avx512_bf16" in intel["vector"]
    amd = cpu_capabilities(EPYC)
    assert amd["matrix"] == [] and amd["vector"] == ["avx2", "fma"]
    assert cpu_flags(ARM) == {"fp", "asimd", "bf16", "i8mm"}
    assert cpu_flags("") == set() and cpu_model("") != ""
