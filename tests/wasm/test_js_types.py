"""``tsc --checkJs`` over the JSDoc types of the JS SDK (``wasm/js``) and the ``/mixer/`` page
(``jsconfig.json``): the message typedefs of ``protocol.js`` and every annotated function are
checked against the code that uses them. TypeScript is an npm devDependency."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "node_modules" / ".bin" / "tsc"

#: Files whose type errors do not fail the run yet, with the reason; the list only shrinks.
PENDING: dict[str, str] = {}

_ERROR = re.compile(
    r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): (?P<msg>.*)$"
)


def _tsc(project: Path) -> tuple[int, list[str]]:
    if not TSC.exists():
        pytest.skip("typescript is not installed (npm install)")
    r = subprocess.run(
        [str(TSC), "-p", str(project), "--pretty", "false"],
        cwd=project.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return r.returncode, (r.stdout + r.stderr).splitlines()


def test_jsdoc_types_check() -> None:
    code, lines = _tsc(ROOT / "jsconfig.json")
    errors = []
    for line in lines:
        m = _ERROR.match(line)
        if m is None:
            if "error TS" in line:  # a configuration error: no file, nothing checked
                errors.append(line)
            continue
        if m["file"] not in PENDING:
            errors.append(line)
    assert not errors, "type errors:\n" + "\n".join(errors)
    # a failing exit without any reported error would be a crash, not a clean check
    assert code == 0 or any(_ERROR.match(line) for line in lines), lines


def test_the_check_catches_a_wrong_payload(tmp_path: Path) -> None:
    """The checker is live: a request built against protocol.js's typedefs with a wrong field type
    is reported (the same compiler options as the project)."""
    src = (ROOT / "wasm" / "js" / "protocol.js").read_text()
    (tmp_path / "protocol.js").write_text(src)
    (tmp_path / "use.js").write_text(
        'import { MSG } from "./protocol.js";\n'
        '/** @type {import("./protocol.js").LiveStartRequest} */\n'
        'export const req = { rings: null, config: null, channels: "two" };\n'
        "export const t = MSG.LIVE_START;\n"
    )
    cfg = (ROOT / "jsconfig.json").read_text()
    cfg = re.sub(r'"include":\s*\[[^\]]*\]', '"include": ["*.js"]', cfg)
    cfg = re.sub(r'"types":\s*\[[^\]]*\]', '"types": []', cfg)
    (tmp_path / "jsconfig.json").write_text(cfg)
    code, lines = _tsc(tmp_path / "jsconfig.json")
    assert code != 0
    assert any("use.js" in line and "TS2322" in line for line in lines), lines
