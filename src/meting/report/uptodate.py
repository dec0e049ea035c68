"""Skip a report whose inputs have not changed since it was rendered.

A report's inputs: its notebook source, its papermill parameters and the PDF switch, every
parameter file, the data files of every wave (and the synthetic truth), this
package's source and the versions of the packages the reports list, all hashed the way
:mod:`meting.artefacts` keys its tables. After a successful render the digest is written (atomically)
to ``<project>/.meting/stamps/`` (outside the served report folder); a later run whose digest
matches, and whose output files all exist, does not render the report again. ``meting report
--force`` renders everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from meting.report.render import RenderJob

__all__ = ["inputs_digest", "is_up_to_date", "record"]


def _stamp(job: RenderJob) -> Path:
    html = job.outputs["html"].resolve()
    name = hashlib.sha256(str(html).encode()).hexdigest()[:32]
    return job.failed_path.parent.parent / "stamps" / f"{name}.sha256"


def inputs_digest(job: RenderJob) -> str:
    """SHA-256 of everything a report is made from (see the module docstring)."""
    from meting.artefacts import _key_parts
    from meting.registry import load_registry
    from meting.report.provenance import sha256_file

    params_dir = job.parameters.get("params_dir") or None
    registry = load_registry(params_dir)
    # every wave, not only the report's own: the validation reads every synthetic wave, and a
    # report that shows earlier waves must follow them
    parts = [_key_parts(registry, w) for w in sorted(registry.waves)]
    synthetic = Path(registry.project_root) / "data" / "synthetic"
    truth = {  # the synthetic truth beside the sample (the validation report reads it)
        p.relative_to(synthetic).as_posix(): sha256_file(p)
        for w in registry.synthetic_waves()
        for p in sorted((synthetic / w).glob("truth_*.csv"))
    }
    payload = {
        "notebook": sha256_file(job.notebook),
        "parameters": dict(job.parameters),
        "pdf": job.pdf,
        "title": job.title,
        "inputs": parts,
        "truth": truth,
        "date": os.environ.get("SOURCE_DATE_EPOCH"),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def is_up_to_date(job: RenderJob, digest: str) -> bool:
    """Whether every output of ``job`` exists and was made from inputs with this ``digest``."""
    stamp = _stamp(job)
    if not all(p.is_file() for p in job.outputs.values()) or not stamp.is_file():
        return False
    return stamp.read_text(encoding="utf-8").strip() == digest


def record(job: RenderJob, digest: str) -> None:
    """Remember that ``job``'s outputs were made from inputs with this ``digest``."""
    stamp = _stamp(job)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_name(f".{stamp.name}.{uuid.uuid4().hex}")
    tmp.write_text(digest + "\n", encoding="utf-8")
    os.replace(tmp, stamp)
