"""Probe the cases of issue 15 from the command line, as a user would, and print a Markdown table.

    PYTHONPATH=. python benchmarks/safety_probe.py [--keep DIR] [--only SUBSTRING]

Every case runs `python -m qcassist ...` in a subprocess on small projects made here (TF-IDF encoder,
no model weights) and records the exit code, the first output line, whether the project's database
dump is unchanged, wall time and the child's peak memory (os.wait4). A row is OK when the command
did what issue 15 asks (refused with one `Error:` line and exit 2, or handled), else GAP.
Runs in about two minutes on two cores. Nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QCASSIST_LOCK_WAIT="60")


@dataclass
class Run:
    rc: int | None
    out: str
    seconds: float
    peak_mb: float

    @property
    def first(self) -> str:
        lines = [line for line in self.out.splitlines() if line.strip()]
        return lines[0][:150] if lines else ""

    @property
    def one_error_line(self) -> bool:
        lines = [line for line in self.out.splitlines() if line.strip() and not line.startswith("Warning:")]
        return self.rc == 2 and len(lines) == 1 and lines[0].startswith("Error: ")


def qc(*args, cwd=None, timeout: float = 60, stdin=subprocess.DEVNULL, start_only: bool = False):
    """Run `qcassist ARGS`; returns a Run (or the Popen when start_only)."""
    command = [sys.executable, "-m", "qcassist", *map(str, args)]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdin=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
    if start_only:
        return process
    return finish(process, started, timeout)


def finish(process, started: float, timeout: float) -> Run:
    deadline = started + timeout
    status = rusage = None
    while time.monotonic() < deadline:
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    else:
        process.kill()
        _, status, rusage = os.wait4(process.pid, 0)
        process.returncode = None
        out = process.stdout.read()
        return Run(None, f"(killed after {timeout:.0f} s) {out}", time.monotonic() - started, rusage.ru_maxrss / 1024)
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read()
    return Run(process.returncode, out, time.monotonic() - started, rusage.ru_maxrss / 1024)


def dump(project: Path) -> str:
    """sha256 of the database's SQL dump (schema and every row), read from a copy (the project may be on a
    full or read-only disk, where even a reader cannot make its -shm file)."""
    with tempfile.TemporaryDirectory() as folder:
        for name in ("qcassist.db", "qcassist.db-wal"):
            if (project / name).exists():
                shutil.copyfile(project / name, Path(folder) / name)
        db = sqlite3.connect(Path(folder) / "qcassist.db")
        try:
            return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
        finally:
            db.close()


ROWS: list[tuple[str, str, str, str]] = []


def row(case: str, run: Run | None, ok: bool, note: str = "", *, unchanged: bool | None = None) -> None:
    if run is None:
        observed = note
    else:
        rc = "killed" if run.rc is None else run.rc
        observed = f"rc {rc}, {run.seconds:.1f} s, {run.peak_mb:.0f} MB: `{run.first.replace('|', '/')}`"
        if note:
            observed += f" ({note})"
    if unchanged is not None:
        observed += "; db unchanged" if unchanged else "; **db CHANGED**"
        ok = ok and unchanged
    ROWS.append((case, observed, "OK" if ok else "GAP", ""))
    print(f"{'OK ' if ok else 'GAP'} {case}: {observed}", file=sys.stderr, flush=True)


def refused(case: str, project: Path, *args, expect: str = "", timeout: float = 60, limit_s: float = 10,
            limit_mb: float = 600, **kwargs) -> Run:
    """Run a command that must be refused: one Error: line, exit 2, database unchanged, bounded time/memory."""
    before = dump(project)
    run = qc(*args, timeout=timeout, **kwargs)
    ok = run.one_error_line and expect.lower() in run.out.lower() and run.seconds < limit_s and run.peak_mb < limit_mb
    row(case, run, ok, unchanged=dump(project) == before)
    return run


# --- fixtures: small projects --------------------------------------------------------------------

EVIL = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://x","y")', "@SUM(1+1) says", "+1 and more", "-a dash"]
WORDS = {"trust": "I trusted the nurse who listened kindly and honestly",
         "waiting": "We waited hours in the corridor for the doctor to come"}


def coded_csv(path: Path, n: int = 12) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transcript", "speaker", "text", "code"])
        for i in range(n):
            code = "trust" if i % 2 else "waiting"
            text = f"{EVIL[i % len(EVIL)]} {WORDS[code]} time {i}"
            writer.writerow([f"t{i % 3}", "P1", text, code])
    return path


def base_project(work: Path) -> Path:
    """A trained project: coded units (with formula-looking text), a codebook, a TF-IDF model, suggestions."""
    project = work / "base"
    qc("init", "-p", project)
    codebook = work / "codebook.csv"
    codebook.write_text('code,parent,description\ntrust,,\nwaiting,,\n"=HYPERLINK(""http://e"",""c"")",,evil\n',
                        encoding="utf-8")
    assert qc("codebook", "import", "-p", project, codebook).rc == 0
    run = qc("import-coded", "-p", project, coded_csv(work / "coded.csv", n=40), "--coder", "anna")
    assert run.rc == 0, run.out
    transcript = work / "p9.txt"
    transcript.write_text(f"Interviewer: How was it?\nP9: =cmd|' /C calc'!A0 {WORDS['waiting']}.\n"
                          f"Interviewer: And the nurse?\nP9: {WORDS['trust']}.\n", encoding="utf-8")
    assert qc("import", "-p", project, transcript).rc == 0
    assert qc("segment", "-p", project, "--strategy", "turn", "--encoder", "tfidf").rc == 0
    run = qc("train", "-p", project, "--encoder", "tfidf", timeout=120)
    assert run.rc == 0, run.out
    assert qc("suggest", "-p", project, "--all", timeout=120).rc == 0  # --all: the model is a coder for `agree`
    return project


def copy(project: Path, work: Path, name: str) -> Path:
    target = work / name
    shutil.copytree(project, target)
    return target


# --- the cases -----------------------------------------------------------------------------------


def outputs(project: Path, work: Path) -> None:
    db = project / "qcassist.db"
    commands = {
        "export units -o P/qcassist.db": ["export", "units", "-p", project, "--format", "csv", "-o", db],
        "export codings -o P/qcassist.db": ["export", "codings", "-p", project, "-o", db],
        "units -o P/qcassist.db": ["units", "-p", project, "--format", "csv", "-o", db],
        "report -o P/qcassist.db": ["report", "-p", project, "-o", db],
        "export qdpx P/qcassist.db": ["export", "qdpx", "-p", project, db],
        "condense -o P/qcassist.db": ["condense", "-p", project, "-o", db],
        "decisions export -o P/qcassist.db": ["decisions", "export", "-p", project, "-o", db],
        "export units -o P/qcassist.db-wal --force": ["export", "units", "-p", project, "-o",
                                                      project / "qcassist.db-wal", "--force"],
        "export units -o P/classifiers/x.csv": ["export", "units", "-p", project, "-o", project / "classifiers" / "x.csv"],
    }
    for case, args in commands.items():
        refused(f"1 data loss: {case}", project, *args)
    link = work / "innocent.csv"
    link.symlink_to(db)
    refused("1 data loss: -o symlink to the database, --force", project, "export", "units", "-p", project,
            "-o", link, "--force")
    existing = work / "existing.csv"
    existing.write_text("keep me\n")
    refused("1 existing output without --force", project, "export", "units", "-p", project, "-o", existing,
            expect="--force")
    run = qc("export", "units", "-p", project, "-o", existing, "--force")
    row("1 existing output with --force replaced", run, run.rc == 0 and existing.read_text() != "keep me\n")
    refused("1 export into a missing folder", project, "export", "units", "-p", project, "-o", work / "nope" / "u.csv")
    refused("1 -o /dev/full (disk full on write)", project, "export", "codings", "-p", project, "-o", "/dev/full",
            expect="")


def full_disk(project: Path, work: Path) -> None:
    """A 1 MB tmpfs (root only): the previous output stays whole when a bigger one does not fit."""
    mount = work / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        row("1 full disk keeps the previous output whole", None, True, "skipped: cannot mount a tmpfs (not root)")
        return
    try:
        for name, args in {"export units": ["export", "units", "-p", project, "--format", "csv"],
                           "report": ["report", "-p", project], "condense": ["condense", "-p", project]}.items():
            target = mount / f"{name.replace(' ', '_')}.out"
            target.write_text("previous\n")
            filler = mount / "filler"
            with filler.open("wb") as handle:  # fill the rest of the disk
                try:
                    handle.write(b"x" * 70_000)
                except OSError:
                    pass
            run_ = qc(*args, "-o", target, "--force")
            whole = target.read_text() == "previous\n"
            row(f"1 full disk during {name} -o: previous output whole", run_, run_.one_error_line and whole,
                "" if whole else "previous output lost")
            filler.unlink()
        # import on a full disk: a project on the tmpfs
        small = mount / "p"
        qc("init", "-p", small)
        filler = mount / "filler"
        with filler.open("wb") as handle:
            try:
                handle.write(b"x" * 200_000)
            except OSError:
                pass
        big = work / "big.txt"
        big.write_text("".join(f"Interviewer: q{i}?\nP1: {'word ' * 40}{i}\n" for i in range(300)))
        refused("7 disk full in import", small, "import", "-p", small, big)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def formulas(project: Path, work: Path) -> None:
    db = sqlite3.connect(project / "qcassist.db")
    [(unit_id,)] = db.execute("SELECT max(id) FROM units").fetchall()
    db.close()
    memo = work / "memo.csv"
    memo.write_text(f'unit_id,action,code,memo\n{unit_id},skip,,"=HYPERLINK(""http://x"",""memo"")"\n', encoding="utf-8")
    qc("review", "-p", project, "--decisions", memo)  # a decision memo that is a formula
    for what in ("units", "codings", "decisions", "suggestions", "codebook"):
        target = work / f"exported-{what}.csv"
        run = qc("export", what, "-p", project, "--format", "csv", "-o", target)
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        raw_formula = any(cell.startswith(("=", "+", "@")) for line in csv.reader(io.StringIO(text)) for cell in line)
        row(f"4 formulas neutralised in export {what}", run, run.rc == 0 and not raw_formula,
            "a raw formula cell" if raw_formula else "no cell starts with = + @")
    target = work / "units-raw.csv"
    run = qc("export", "units", "-p", project, "--format", "csv", "--raw", "-o", target)
    row("4 --raw keeps cells as they are", run, run.rc == 0 and "\n=cmd" in target.read_text() or ",=cmd" in
        target.read_text())


QDE_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" name="B" origin="probe">'
USER = "11111111-2222-4333-8444-000000000001"
TEXT = "Interviewer: How did you get there?\nAnna: The bus was late again.\n"


def qde(sources: str, codes: str = '<Code guid="11111111-2222-4333-8444-000000000011" name="transport" '
                                   'isCodable="true"/>', extra: str = "") -> str:
    return (f'{QDE_HEAD}<Users><User guid="{USER}" name="Kim"/></Users><CodeBook><Codes>{codes}</Codes>'
            f'</CodeBook><Sources>{sources}</Sources>{extra}</Project>')


def source(path: str, guid: str = "11111111-2222-4333-8444-0000000000a1", base: str = "") -> str:
    return f'<TextSource guid="{guid}" name="s{guid[-2:]}" plainTextPath="{path}"{base}/>'


def make_qdpx(path: Path, qde_text: str, members: dict[str, str | bytes], *, twice: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde_text)
        if twice:
            with warnings.catch_warnings():  # the duplicate is the point
                warnings.simplefilter("ignore", UserWarning)
                archive.writestr(zipfile.ZipInfo("project.qde"), qde_text)
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def hostile_qdpx(project: Path, work: Path) -> None:
    leaks = {"plainTextPath=/etc/shadow": source("/etc/shadow"),
             "file:///etc/passwd": source("file:///etc/passwd"),
             "relative://passwd basePath=/etc": source("relative://passwd"),
             "relative://../../../../etc/hostname": source("relative://../../../../etc/hostname")}
    secrets = [Path(p).read_text(errors="replace")[:40] for p in ("/etc/passwd", "/etc/hostname") if Path(p).exists()]
    for case, src in leaks.items():
        extra = ' basePath="/etc"' if "basePath" in case else ""
        text = qde(src).replace('origin="probe">', f'origin="probe"{extra}>')
        path = make_qdpx(work / "leak.qdpx", text, {})
        scratch = copy(project, work, "leak")
        run = qc("import", "-p", scratch, path, "--encoder", "tfidf")
        db = sqlite3.connect(scratch / "qcassist.db")
        stored = "\n".join(db.iterdump())
        db.close()
        leaked = any(secret.strip() and secret.strip() in stored for secret in secrets)
        handled = run.one_error_line or (run.rc == 0 and "skipped source" in run.out)
        row(f"2 leak: .qdpx source {case}", run, handled and not leaked,
            "host file content in the project" if leaked else "no host file content in the project")
        shutil.rmtree(scratch)
    twosrc = source("internal://a.txt") + source("internal://b.txt")  # both with the default GUID
    path = make_qdpx(work / "dupsrc.qdpx", qde(twosrc),
                     {"sources/a.txt": TEXT, "sources/b.txt": TEXT})
    refused("2/7 duplicate source GUIDs in .qdpx", project, "import", "-p", project, path, "--encoder", "tfidf")
    codes = ('<Code guid="11111111-2222-4333-8444-000000000011" name="a" isCodable="true"/>'
             '<Code guid="11111111-2222-4333-8444-000000000011" name="b" isCodable="true"/>')
    path = make_qdpx(work / "dupcode.qdpx", qde(source("internal://a.txt"), codes), {"sources/a.txt": TEXT})
    refused("2 duplicate code GUIDs in .qdpx", project, "import", "-p", project, path, "--encoder", "tfidf")
    for label, name in (("empty", ""), ("whitespace", "   ")):
        codes = f'<Code guid="11111111-2222-4333-8444-000000000011" name="{name}" isCodable="true"/>'
        path = make_qdpx(work / "empty.qdpx", qde(source("internal://a.txt"), codes), {"sources/a.txt": TEXT})
        refused(f"2 {label} code name in .qdpx", project, "import", "-p", project, path, "--encoder", "tfidf")
    path = make_qdpx(work / "twice.qdpx", qde(source("internal://a.txt")), {"sources/a.txt": TEXT}, twice=True)
    refused("2 two project.qde members", project, "import", "-p", project, path, "--encoder", "tfidf")
    xxe = qde(source("internal://a.txt")).replace(
        "<Project", '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<Project').replace('name="B"', 'name="&x;"')
    refused("2 XXE entity in project.qde", project, "import", "-p", project,
            make_qdpx(work / "xxe.qdpx", xxe, {"sources/a.txt": TEXT}), "--encoder", "tfidf")
    # bomb: one member expanding to 2 GiB (written streamed, so this script stays small too)
    bomb = work / "bomb.qdpx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("project.qde", qde(source("internal://a.txt")))
        info = zipfile.ZipInfo("sources/a.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            chunk = b"a" * (16 << 20)
            for _ in range(128):
                member.write(chunk)
    refused(f"2 .qdpx bomb ({bomb.stat().st_size / 2**20:.1f} MB expanding to 2 GiB)", project, "import", "-p", project,
            bomb, "--encoder", "tfidf", expect="", limit_s=10, limit_mb=400)


def write_docx(path: Path, document: bytes, repeat: bytes = b"", times: int = 0) -> Path:
    """A minimal .docx; ``repeat`` * ``times`` is streamed into document.xml before its end (a bomb)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                         '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                         'officedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                         'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
                         '</Relationships>')
        info = zipfile.ZipInfo("word/document.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(document)
            chunk = repeat * 100_000
            for _ in range(times // 100_000):
                member.write(chunk)
            if times:
                member.write(b"</w:body></w:document>")
    return path


def hostile_inputs(project: Path, work: Path) -> None:
    spaces = work / "spaces.txt"
    spaces.write_text("Interviewer: hi\nP1: a" + " " * 80_000 + "b\n")
    refused_or_ok(project, "3 DoS: 80 KB .txt with a run of spaces", spaces)
    vtt = work / "voice.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v" + ".a" * 60 + "\n")
    refused_or_ok(project, "3 DoS: 140-byte .vtt with <v.a.a.a…", vtt)
    head = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">' \
           b"<w:body>"
    path = write_docx(work / "bomb.docx", head, b"<w:p/>", 200 * 1024 * 1024 // 6)
    refused(f"3 .docx bomb ({path.stat().st_size >> 10} KB expanding to 200 MB)", project, "import", "-p", project, path,
            limit_mb=400)
    path = write_docx(work / "broken.docx", b"<w:document><unclosed>")
    refused("7 malformed XML in a .docx", project, "import", "-p", project, path)
    fifo = work / "fifo.txt"
    os.mkfifo(fifo)
    refused("3 FIFO named .txt", project, "import", "-p", project, fifo, timeout=15)
    zero = work / "zero.txt"
    zero.symlink_to("/dev/zero")
    refused("3 symlink to /dev/zero", project, "import", "-p", project, zero, timeout=15)
    tables = {
        "NaN time": "speaker,text,start\nP1,hello,NaN\n",
        "Infinity time": "speaker,text,start\nP1,hello,Infinity\n",
        "reversed times": "speaker,text,start,end\nP1,hello,5,2\n",
        "unterminated quote": 'speaker,text\nP1,"hello\nP2,there\n',
        "duplicate header": "speaker,text,text\nP1,a,b\n",
    }
    for label, content in tables.items():
        path = work / f"table_{label.replace(' ', '_')}.csv"
        path.write_text(content)
        refused(f"3 CSV transcript: {label}", project, "import", "-p", project, path)
    jsonl = {
        "lone surrogate": '{"speaker": "P1", "text": "\\ud800"}\n',
        "5,000-digit integer": '{"speaker": "P1", "text": "a", "start": ' + "9" * 5000 + "}\n",
        "deep nesting": '{"speaker": "P1", "text": ' + "[" * 5000 + "]" * 5000 + "}\n",
        "row that is a list": '["P1", "a"]\n',
        "NaN time": '{"speaker": "P1", "text": "a", "start": NaN}\n',
    }
    for label, content in jsonl.items():
        path = work / f"rows_{label.split()[0]}.jsonl"
        path.write_text(content)
        refused(f"7 JSONL transcript: {label}", project, "import", "-p", project, path)
    for label, content in {"row that is a list": '["u1", "accept"]\n', "lone surrogate":
                           '{"unit_id": "\\udc00", "action": "accept"}\n',
                           "deep nesting": "[" * 5000 + "]" * 5000 + "\n"}.items():
        path = work / f"decisions_{label.split()[0]}.jsonl"
        path.write_text(content)
        refused(f"7 JSONL decisions: {label}", project, "review", "-p", project, "--decisions", path)


def refused_or_ok(project: Path, case: str, path: Path) -> None:
    """A pathological but valid input: imported or refused, but quickly and in bounded memory."""
    scratch = project.parent / f"scratch_{path.stem}"
    shutil.copytree(project, scratch)
    run = qc("import", "-p", scratch, path, timeout=30)
    ok = run.rc in (0, 2) and run.seconds < 10 and (run.rc == 0 or run.one_error_line)
    row(case, run, ok)
    shutil.rmtree(scratch)


def codebooks(project: Path, work: Path) -> None:
    files = {
        "empty name (yaml)": ("cb.yaml", "codes:\n  - name: ''\n"),
        "whitespace name (yaml)": ("cb.yaml", "codes:\n  - name: '   '\n"),
        "same code twice (yaml)": ("cb.yaml", "codes:\n  - name: trust\n  - name: trust\n"),
        "empty name (csv)": ("cb.csv", "code,parent,description\n,,x\n"),
        "whitespace name (csv)": ("cb.csv", "code,parent,description\n   ,,x\n"),
        "same code twice (csv)": ("cb.csv", "code,parent,description\nfoo,,\nfoo,,\n"),
        "empty name (json)": ("cb.json", '{"codes": [{"name": ""}]}'),
        "same code twice (json)": ("cb.json", '{"codes": [{"name": "foo"}, {"name": "foo"}]}'),
    }
    for label, (name, content) in files.items():
        path = work / name
        path.write_text(content)
        refused(f"7 codebook import: {label}", project, "codebook", "import", "-p", project, path)
    deep = work / "deep"
    qc("init", "-p", deep)
    nested = "codes:\n" + "".join("  " * (2 * i + 1) + f"- name: c{i}\n" + "  " * (2 * i + 2) + "codes:\n"
                                  for i in range(250)) + "  " * 501 + "- name: leaf\n"
    (work / "deep.yaml").write_text(nested)
    run = qc("codebook", "import", "-p", deep, work / "deep.yaml")
    if run.rc == 0:
        out = qc("export", "codebook", "-p", deep, "--format", "yaml", "-o", work / "deep-out.yaml")
        row("7 YAML export of a 250-deep codebook", out, out.rc == 0 or out.one_error_line)
    else:
        row("7 250-deep codebook import (then YAML export)", run, run.one_error_line)


def databases(project: Path, work: Path) -> None:
    flipped = copy(project, work, "flipped")
    qc("status", "-p", flipped)
    data = bytearray((flipped / "qcassist.db").read_bytes())
    for offset in range(4096, len(data), 997):
        data[offset] ^= 0xFF
    (flipped / "qcassist.db").write_bytes(data)
    run = qc("units", "-p", flipped)
    row("7 byte-flipped database", run, run.one_error_line)
    readonly = copy(project, work, "readonly")
    qc("status", "-p", readonly)  # checkpoint on close
    for p in readonly.glob("qcassist.db-*"):
        p.unlink()
    try:
        # root ignores permission bits; a read-only bind mount is what a user would meet
        ro = subprocess.run(["mount", "--bind", "-o", "ro", str(readonly), str(readonly)], capture_output=True)
        if ro.returncode == 0:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(readonly)], capture_output=True)
        before = dump(readonly) if ro.returncode == 0 else None
        for label, args in {"units": ["units", "-p", readonly],
                            "export units -o elsewhere": ["export", "units", "-p", readonly, "-o", work / "ro.csv"],
                            "agree": ["agree", "-p", readonly, "--coders", "anna,model"],
                            "report -o elsewhere": ["report", "-p", readonly, "-o", work / "ro.html"]}.items():
            run = qc(*args)
            row(f"7 read-only project: {label}", run, run.rc == 0 or (run.one_error_line and "read-only" in run.out),
                "" if run.rc == 0 else "refused")
        new_code = work / "new-code.csv"
        new_code.write_text("code,parent,description\nnewcode,,\n", encoding="utf-8")
        run = qc("codebook", "import", "-p", readonly, new_code)
        row("7 read-only project: codebook import (a write)", run, run.one_error_line and "read-only" in run.out
            and "backup" not in run.out, unchanged=None if before is None else dump(readonly) == before)
    finally:
        subprocess.run(["umount", str(readonly)], capture_output=True)
    immutable = copy(project, work, "immutable")
    qc("status", "-p", immutable)
    if subprocess.run(["chattr", "+i", str(immutable / "qcassist.db")], capture_output=True).returncode == 0:
        try:
            new_code = work / "new-code.csv"
            run = qc("codebook", "import", "-p", immutable, new_code)
            row("7 immutable database (chattr +i): codebook import (a write)", run, run.one_error_line and "backup" not in run.out)
            run = qc("export", "units", "-p", immutable, "-o", work / "imm.csv")
            row("7 immutable database: export units", run, run.rc == 0)
        finally:
            subprocess.run(["chattr", "-i", str(immutable / "qcassist.db")], capture_output=True)


def models(project: Path, work: Path) -> None:
    import numpy as np

    def tamper(label: str, change) -> None:
        copyp = copy(project, work, f"model_{len(ROWS)}")
        [folder] = sorted((copyp / "classifiers").iterdir())[-1:]
        change(folder)
        refused(f"7 tampered model: {label}", copyp, "suggest", "-p", copyp, expect="train")
        shutil.rmtree(copyp)

    def npz(folder: Path) -> Path:
        return next(folder.glob("*.npz"))

    def truncate(folder: Path) -> None:
        path = npz(folder)
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])

    def wrong_shape(folder: Path) -> None:
        path = npz(folder)
        arrays = dict(np.load(path))
        key = next(iter(arrays))
        arrays[key] = np.zeros((3, 7))
        np.savez(path, **arrays)

    def zero_platt(folder: Path) -> None:
        path = npz(folder)
        arrays = dict(np.load(path))
        keys = [k for k in arrays if "platt" in k]
        if not keys:
            raise SystemExit(f"no platt array in {list(arrays)}")
        for k in keys:
            arrays[k] = np.zeros_like(arrays[k])
        np.savez(path, **arrays)

    def huge_header(folder: Path) -> None:
        path = npz(folder)
        arrays = dict(np.load(path))
        key = next(iter(arrays))
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(4, dtype=np.float64))
        raw = buffer.getvalue().replace(b"(4,)", b"(10000000000,)".ljust(4), 1)
        with zipfile.ZipFile(path, "w") as archive:
            for k, v in arrays.items():
                if k == key:
                    archive.writestr(k + ".npy", raw)
                else:
                    member = io.BytesIO()
                    np.save(member, v)
                    archive.writestr(k + ".npy", member.getvalue())

    def bad_manifest(folder: Path) -> None:
        (next(folder.glob("*.json"))).write_text("{not json")

    def nan_values(folder: Path) -> None:
        path = npz(folder)
        arrays = dict(np.load(path))
        key = next(k for k, v in arrays.items() if v.dtype.kind == "f")
        arrays[key] = np.full_like(arrays[key], np.nan)
        np.savez(path, **arrays)

    for label, change in {"truncated npz": truncate, "wrong shape": wrong_shape, "platt arrays of zeros": zero_platt,
                          "header declaring 74 GiB": huge_header, "manifest not JSON": bad_manifest,
                          "NaN weights": nan_values}.items():
        tamper(label, change)
    cache = copy(project, work, "cache")
    for path in (cache / ".qcassist-cache").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage" * 10)
    run = qc("train", "-p", cache, "--encoder", "tfidf", timeout=120)
    row("7 corrupt embedding cache (train)", run, run.rc == 0 and "Warning" in run.out)


def concurrency(project: Path, work: Path) -> None:
    two = copy(project, work, "twotrain")
    started = time.monotonic()
    procs = [qc("train", "-p", two, "--encoder", "tfidf", start_only=True) for _ in range(2)]
    runs = [finish(p, started, 120) for p in procs]
    versions = sorted(p.name for p in (two / "classifiers").iterdir())
    after = qc("suggest", "-p", two, timeout=120)
    ok = all(r.rc == 0 for r in runs) and after.rc == 0 and len(versions) == len(set(versions))
    row("5 two `train` at once, then suggest", runs[1], ok,
        f"rcs {[r.rc for r in runs]}, model folders {versions}, suggest rc {after.rc}")
    race = copy(project, work, "race")
    same = work / "same" / "p9.txt"
    same.parent.mkdir()
    same.write_text((work / "p9.txt").read_text().replace("hours", "days"))
    started = time.monotonic()
    procs = [qc("import", "-p", race, work / "p9.txt", "--replace", start_only=True),
             qc("import", "-p", race, same, start_only=True)]
    runs = [finish(p, started, 60) for p in procs]
    ok = all(r.rc == 0 or r.one_error_line for r in runs)
    row("7 two imports racing on one name", runs[1], ok, f"rcs {[r.rc for r in runs]}")
    # a slow .qdpx import against other writers
    busy = copy(project, work, "busy")
    sources = "".join(source(f"internal://s{i}.txt", guid=f"11111111-2222-4333-8444-0000000001{i:02d}")
                      for i in range(40))
    members = {f"sources/s{i}.txt": "".join(f"Interviewer: q{j}?\nAnna: {'we talked about the bus ' * 20}{j}\n"
                                            for j in range(60)) for i in range(40)}
    path = make_qdpx(work / "slow.qdpx", qde(sources), members)
    started = time.monotonic()
    slow = qc("import", "-p", busy, path, "--encoder", "tfidf", "--strategy", "cohesive", start_only=True)
    time.sleep(1.5)
    other = qc("import", "-p", busy, work / "p9.txt", "--replace")
    decisions = work / "decisions.csv"
    db = sqlite3.connect(busy / "qcassist.db")
    [(unit_id,)] = db.execute("SELECT min(id) FROM units").fetchall()
    db.close()
    decisions.write_text(f"unit_id,action,code,memo\n{unit_id},skip,,\n")
    review = qc("review", "-p", busy, "--decisions", decisions)
    slow_run = finish(slow, started, 120)
    ok = slow_run.rc == 0 and other.rc == 0 and review.rc == 0 and "locked" not in other.out + review.out
    row("5 .qdpx import vs import and review --decisions", other, ok,
        f"qdpx import rc {slow_run.rc} in {slow_run.seconds:.1f} s; review rc {review.rc}: {review.first}")


def leftovers(project: Path, work: Path) -> None:
    fresh = work / "fresh"  # a codebook and one example per code: train fits TF-IDF, then refuses
    qc("init", "-p", fresh)
    qc("codebook", "import", "-p", fresh, work / "codebook.csv")
    qc("import-coded", "-p", fresh, coded_csv(work / "two.csv", n=2), "--coder", "anna")
    run = qc("train", "-p", fresh, "--encoder", "tfidf")
    left = [p.name for p in (fresh / "encoders", fresh / "classifiers") if p.exists() and any(p.iterdir())]
    row("7 failed train leaves no encoders/ or classifiers/ folder", run, run.one_error_line and not left,
        f"left behind: {left}" if left else "nothing left behind")


def sigint(project: Path, work: Path) -> None:
    tracebacks = interpreter = 0
    trials = 0
    for delay in (0.01, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5):
        process = qc("status", "-p", project, start_only=True)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        trials += 1
        if "Fatal Python error: init_import_site" in out:
            interpreter += 1  # Python's own start-up, before any qcassist code runs
        else:
            tracebacks += "Traceback" in out
    row("7 SIGINT at start-up (delays 10–500 ms)", None, tracebacks == 0,
        f"{tracebacks} qcassist tracebacks in {trials} runs; {interpreter} interrupted Python's own site import")


def retrain_orphan(project: Path, work: Path) -> None:
    """SIGKILL of `review --retrain-every 1` must not leave its worker running (needs a terminal: uses a pty)."""
    import pty

    orphan = copy(project, work, "orphan")
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a real terminal's size
        os.execvpe(sys.executable, [sys.executable, "-m", "qcassist", "review", "-p", str(orphan), "--retrain-every",
                                    "1", "--coder", "kim"], ENV)
    try:
        deadline = time.monotonic() + 30
        seen = b""
        while time.monotonic() < deadline:  # the screen is up once it has drawn and gone quiet
            if not select.select([fd], [], [], 1.5)[0]:
                if seen:
                    break
                continue
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
        os.write(fd, b"a")
        time.sleep(1.0)
        try:
            seen += os.read(fd, 65536) if select.select([fd], [], [], 0.5)[0] else b""
        except OSError:
            pass
        (work / "review-screen.txt").write_bytes(seen)
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        models_before = sorted(p.name for p in (orphan / "classifiers").iterdir())
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        time.sleep(5)
        alive = [c for c in children if Path(f"/proc/{c}").exists()]
        late = sorted(set(p.name for p in (orphan / "classifiers").iterdir()) - set(models_before))
        started = b"accept" in seen.lower() or b"reject" in seen.lower()
        row("6 SIGKILL of review --retrain-every 1: workers exit", None, started and not alive and not late,
            f"review screen {'shown' if started else 'NOT shown'}; {len(children)} children, alive 5 s after the "
            f"kill: {len(alive)}; models written after the kill: {late or 'none'}")
        for c in alive:
            os.kill(int(c), signal.SIGKILL)
    finally:
        os.close(fd)


GROUPS = [outputs, full_disk, formulas, hostile_qdpx, hostile_inputs, codebooks, databases, models, concurrency,
          leftovers, sigint, retrain_orphan]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--only", default="", help="run only the groups whose name contains this")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="qcassist-probe-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        project = base_project(work)
        for group in GROUPS:
            if args.only in group.__name__:
                try:
                    group(project, work)
                except Exception as error:  # a probe that breaks is a row, not the end of the table
                    row(f"{group.__name__} (probe failed)", None, False, f"{type(error).__name__}: {error}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("| case | now | verdict |\n|---|---|---|")
    for case, observed, verdict, _ in ROWS:
        print(f"| {case} | {observed} | {verdict} |")
    gaps = sum(verdict == "GAP" for _, _, verdict, _ in ROWS)
    print(f"\n{len(ROWS)} cases, {gaps} gaps, {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
