"""`labeldesk …` command line. Every command has --help; the GUI is imported only for `gui`/`demo`."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from labeldesk import __version__
from labeldesk.core.errors import LabeldeskError
from labeldesk.core.tasks import Progress

DEFAULT_DEMO_DIR = Path.home() / "labeldesk-demo"


class ProgressBar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self.tty else 2.0) and done < total:
            return
        self._last = now
        frac = done / total if total else 1.0
        if self.tty:
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r[{bar:<30}] {done}/{total} {text[:60]:<60}")
            if done >= total:
                self.stream.write("\n")
        else:
            self.stream.write(f"{done}/{total} {text}\n")
        self.stream.flush()


def _open(args: argparse.Namespace) -> Any:
    from labeldesk.core.project import Project, store_upgrade_pending
    pending = store_upgrade_pending(args.project)
    if pending is not None:       # once; a large op log is copied (seconds): say why it waits
        print(f"labeldesk: upgrading the project's store for this version (store version {pending[0]} → "
              f"{pending[1]}; once, every op kept)…", file=sys.stderr, flush=True)
    return Project.open(args.project, allow_unsafe_location=getattr(args, "allow_unsafe_location", False))


def cmd_init(args: argparse.Namespace) -> int:
    from labeldesk.core.project import Project
    with Project.create(args.project, args.name, user_name=args.user,
                        allow_unsafe_location=args.allow_unsafe_location) as project:
        print(f"created project {project.name!r} at {project.root} (id {project.id})")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from labeldesk.core.importer import add_paths
    with _open(args) as project:
        progress = Progress(ProgressBar() if not args.quiet else None)
        try:
            report = add_paths(project, args.paths, progress, deidentify=getattr(args, "deidentify", False))
        except KeyboardInterrupt:
            progress.cancel()
            print("cancelled", file=sys.stderr)
            return 130
        from labeldesk.core.import_summary import lines
        for line in lines(report):
            print(line)
        print(report.summary())
        return 0 if report.added or report.linked or not report.refused else 1


def cmd_locate(args: argparse.Namespace) -> int:
    from labeldesk.core.relink import auto_link, locate
    with _open(args) as project:
        progress = Progress(ProgressBar() if not args.quiet else None)
        report = locate(project, args.folders, progress) if args.folders else auto_link(project, progress)
        for asset in report.linked:
            print(f"found    {asset.kind:<8} {asset.name}")
        for name in report.missing:
            print(f"missing  {name}")
        print(report.summary())
        return 0 if not report.missing else 1


def _dims(a: Any) -> str:
    from labeldesk.core.import_summary import dimensions
    return dimensions(a)


def cmd_info(args: argparse.Namespace) -> int:
    with _open(args) as project:
        info = project.info()
        chain = project.verify_chain()
        info["op_log"] = {"verified": chain.ok, "ops": chain.count, "problem": chain.problem}
        if args.json:
            print(json.dumps(info, indent=2))
            return 0
        print(f"project   {info['name']}  ({info['project_id']})")
        print(f"location  {info['root']}")
        c = info["counts"]
        print(f"contents  {c['assets']} assets, {c['annotations']} annotations, {c['classes']} classes, "
              f"{c['layers']} layers, {c['users']} users")
        print(f"op log    {c['ops']} ops, hash chain {'verified' if chain.ok else 'BROKEN: ' + str(chain.problem)}")
        for a in project.assets():
            print(f"  {a.kind:<8} {a.name}  ({_dims(a)})")
        return 0


def _no_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return False
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _run_gui(project_dir: str | None, screenshot: str | None) -> int:
    from labeldesk.core.project import is_project
    argv = ["labeldesk"]
    if project_dir:
        if not is_project(project_dir):
            raise LabeldeskError(f"{project_dir}: not a labeldesk project; create one with "
                                 f"`labeldesk init {project_dir}` or try `labeldesk demo`")
        argv.append(str(project_dir))
    if _no_display():
        if screenshot is None:
            screenshot = str(Path(project_dir or ".").resolve() / "labeldesk-screenshot.png")
        print("no display found: running offscreen; a screenshot of the main window goes to "
              f"{screenshot}", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if screenshot:
        argv += ["--screenshot", screenshot]
    from labeldesk.qt.app import main as gui_main
    code = gui_main(argv)
    if screenshot and code == 0:
        print(f"screenshot written to {screenshot}")
    return code


def cmd_gui(args: argparse.Namespace) -> int:
    return _run_gui(args.project, args.screenshot)


def cmd_demo(args: argparse.Namespace) -> int:
    from labeldesk.core.project import is_project
    from labeldesk.core.samples.demo import build_demo
    dest = Path(args.dir).expanduser().resolve()
    if is_project(dest) and not args.rebuild:
        print(f"demo project exists at {dest} (use --rebuild to make it again)")
    else:
        build_demo(dest, Progress(ProgressBar()), small=args.small, rebuild=args.rebuild)
        print(f"demo project created at {dest}")
    if args.no_gui:
        print(dest)
        return 0
    return _run_gui(str(dest), args.screenshot)


def cmd_self_test(args: argparse.Namespace) -> int:
    from labeldesk.selftest import run_self_test
    return run_self_test(screenshot=args.screenshot, gui=not args.no_gui)


def _command_word(argv: list[str]) -> str | None:
    """The sub-command named on a command line (the top-level options take no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The `labeldesk` parser. With ``argv``, only the command areas needed to parse that command
    line are imported: none for ``--version`` or a basic command, the command's own area (and those
    registered before it) for an area command; every area for ``--help``, no command or an unknown
    one (so the help and the error list every command). Some areas import numpy to build their
    choices, which is most of a bare start-up."""
    parser = argparse.ArgumentParser(
        prog="labeldesk", description="Offline-first annotation for images, video, DICOM and NIfTI.")
    parser.add_argument("--version", action="version", version=f"labeldesk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    unsafe_help = "allow a project store on a network filesystem or synced folder (risk of corruption)"
    p = command("init", cmd_init, "create a new, empty project in a folder")
    p.add_argument("project", metavar="DIR", help="project folder (created if missing)")
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--user", help="your user name in this project (default: your login name)")
    p.add_argument("--allow-unsafe-location", action="store_true", help=unsafe_help)

    p = command("add", cmd_add, "add images, videos, DICOM series and NIfTI volumes (files or folders)")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("paths", metavar="PATH", nargs="+", help="files or folders (searched recursively)")
    p.add_argument("--deidentify", action="store_true",
                   help="de-identify DICOM first (PS3.15 basic profile, dicognito): the copies go to the "
                        "project's local cache, the re-identification map stays local; images whose pixels "
                        "may carry text (burned-in annotation, secondary capture, ultrasound) are listed "
                        "for pixel review")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-unsafe-location", action="store_true", help=unsafe_help)

    p = command("locate", cmd_locate, "find the files of assets that are not on this machine (a joiner's "
                "copy): at the path recorded when they were added, or under the folders given; matched by content")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("folders", metavar="FOLDER", nargs="*", help="folders to search (default: the recorded paths)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-unsafe-location", action="store_true", help=unsafe_help)

    p = command("info", cmd_info, "show a project's contents and verify its op log")
    p.add_argument("project", metavar="DIR", help="project folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--allow-unsafe-location", action="store_true", help=unsafe_help)

    p = command("demo", cmd_demo, "create a demo project from generated data and open it")
    p.add_argument("--dir", default=str(DEFAULT_DEMO_DIR), help=f"where to create it (default {DEFAULT_DEMO_DIR})")
    p.add_argument("--no-gui", action="store_true", help="only create the project and print its path")
    p.add_argument("--small", action="store_true", help="smaller data (faster; used by tests)")
    p.add_argument("--rebuild", action="store_true", help="delete and recreate an existing demo project")
    p.add_argument("--screenshot", metavar="PNG", help="write a screenshot of the main window and exit")

    p = command("gui", cmd_gui, "open the app (on a project folder if given)")
    p.add_argument("project", metavar="DIR", nargs="?", help="project folder")
    p.add_argument("--screenshot", metavar="PNG", help="write a screenshot of the main window and exit")

    p = command("self-test", cmd_self_test, "check this installation: build a demo project, read every asset kind")
    p.add_argument("--screenshot", metavar="PNG", help="also write a screenshot of the main window")
    p.add_argument("--no-gui", action="store_true", help="skip the offscreen window check")

    word = _command_word(argv) if argv is not None else None
    if argv is not None and (word in sub.choices or (
            word is None and "--version" in argv and not {"-h", "--help"} & set(argv))):
        return parser
    import importlib
    from labeldesk.commands import AREAS
    for area in AREAS:
        importlib.import_module(f"labeldesk.commands.{area}").register(command)
        if word is not None and word in sub.choices:
            break
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A reader that stops early (``labeldesk info … | head``) ends it quietly."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        from labeldesk.console import silence_stdout
        silence_stdout()
        return 141                # 128 + SIGPIPE, as a shell tool stopped by a closed pipe


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except LabeldeskError as exc:
        print(f"labeldesk: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labeldesk: interrupted", file=sys.stderr)
        return 130
