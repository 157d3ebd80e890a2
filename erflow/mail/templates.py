"""Templates of emails and documents, rendered sandboxed and strict.

The only module of erflow that imports jinja2. It never prints; every failure is an erflow error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from erflow.core.errors import InvalidData, NotFound, Refused, located
from erflow.mail.message import Email, one_line
from erflow.store.paths import plain

_SUBJECT = re.compile(r"Subject:[ \t]*([^\r\n]*)")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UNDEFINED = re.compile(r"^'([^']+)' is undefined$|has no attribute '([^']+)'")
# What a template's own mistake can raise while rendering (a filter given bad input, ...).
_TEMPLATE_BUGS = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
)


class _Loader(jinja2.BaseLoader):
    """The files of one templates folder, for the template itself and every include, import and
    extends: a name that is absolute or climbs with '..' is refused, and so is a path through a
    symlink (store.paths.plain from the store's ``root``), whether it leads outside or not."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.root = root.resolve()  # the folder itself is not resolved: a symlinked one is refused
        inside = directory.is_relative_to(root)
        self.directory = self.root / directory.relative_to(root) if inside else directory
        shown = directory.relative_to(root).as_posix() if inside else "."
        self.shown = shown if shown != "." else str(directory)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        parts = template.replace("\\", "/").split("/")
        if template.startswith(("/", "\\")) or ".." in parts:
            raise InvalidData(f"template {template!r}: leads outside {self.shown}/, refused")
        path = plain(self.root, self.directory / "/".join(p for p in parts if p not in ("", ".")))
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise jinja2.TemplateNotFound(template) from None
        mtime = path.stat().st_mtime_ns
        source = data.decode("utf-8")
        return source, str(path), lambda: path.is_file() and path.stat().st_mtime_ns == mtime


@dataclass(frozen=True)
class _Parsed:
    subject: jinja2.Template
    body: jinja2.Template
    variables: frozenset[str]


class TemplateSet:
    """The email templates of a folder: NAME.j2 holds 'Subject: ...', an empty line, the body."""

    def __init__(self, directory: Path, root: Path | None = None) -> None:
        self.directory = directory
        self._loader = _Loader(directory, root or directory)
        self._env = SandboxedEnvironment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._cache: dict[str, _Parsed] = {}

    def names(self) -> list[str]:
        """The templates in the folder; InvalidData when the folder is reached through a symlink."""
        if not self.directory.is_dir():
            return []
        plain(self._loader.root, self._loader.directory)
        found = self.directory.glob("*.j2")
        return sorted(p.stem for p in found if p.is_file() and not p.name.startswith("."))

    def exists(self, name: str) -> bool:
        return name in self.names()

    def variables(self, name: str) -> set[str]:
        return set(self._parse(name).variables)

    def unguarded_variables(self, name: str) -> frozenset[str]:
        """The names the template uses outside an ``is defined`` test or a ``default`` filter: what a
        ticket must hold for it to render. NotFound, or InvalidData for a syntax error."""
        try:
            tree = self._env.parse(self._source(name))
        except jinja2.TemplateSyntaxError as exc:
            raise InvalidData(located(self._path(name), exc.lineno, exc.message or "syntax error")) from None
        guarded = {
            test.node.name
            for test in tree.find_all(jinja2.nodes.Test)
            if test.name == "defined" and isinstance(test.node, jinja2.nodes.Name)
        }
        guarded |= {
            used.node.name
            for used in tree.find_all(jinja2.nodes.Filter)
            if used.name in ("default", "d") and isinstance(used.node, jinja2.nodes.Name)
        }
        return frozenset(jinja2.meta.find_undeclared_variables(tree) - guarded)

    def render(
        self,
        name: str,
        context: Mapping[str, object],
        *,
        ticket_id: str,
        sender: str,
        to: str,
        to_name: str,
    ) -> Email:
        parsed = self._parse(name)
        values = dict(context)
        subject = one_line(self._render_part(name, parsed.subject, values, ticket_id))
        body = self._render_part(name, parsed.body, values, ticket_id)
        if not subject:
            raise InvalidData(located(self._path(name), 1, "the Subject renders empty"))
        return Email(
            template=name,
            ticket_id=ticket_id,
            sender=sender,
            to=to,
            to_name=to_name,
            subject=subject,
            body=body,
        )

    def _render_part(
        self, name: str, template: jinja2.Template, values: dict[str, object], ticket_id: str
    ) -> str:
        """Render with every failure named: a missing field refuses (exit 3), unsafe code is invalid."""
        try:
            return template.render(values)
        except SecurityError as exc:
            raise InvalidData(located(self._path(name), None, f"unsafe template code: {exc}")) from None
        except jinja2.UndefinedError as exc:
            match = _UNDEFINED.search(exc.message or "")
            missing = [next(g for g in match.groups() if g)] if match else []
            what = f"field '{missing[0]}'" if missing else f"a value ({exc.message})"
            raise Refused(
                f"template '{name}' needs {what}, which ticket {ticket_id} lacks",
                missing=missing,
            ) from None
        except _TEMPLATE_BUGS as exc:  # e.g. a filter given a value it cannot handle
            raise InvalidData(located(self._path(name), None, f"cannot render: {exc}")) from None

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            names = self.names()
        except InvalidData as exc:
            return [exc.message]
        for name in names:
            self._cache.pop(name, None)
            try:
                found.extend(self._load(name)[1])
            except InvalidData as exc:
                found.append(exc.message)
        return found

    def _path(self, name: str) -> str:
        return f"templates/{name}.j2"

    def _parse(self, name: str) -> _Parsed:
        parsed, errors = self._load(name)
        if parsed is None:
            more = len(errors) - 1
            raise InvalidData(errors[0], hint=f"{more} more; run erflow check" if more else None)
        return parsed

    def _load(self, name: str) -> tuple[_Parsed | None, list[str]]:
        """The template split into Subject and body and compiled, or every syntax error."""
        if name in self._cache:
            return self._cache[name], []
        source = self._source(name)
        path = self._path(name)
        match = _SUBJECT.match(source)
        if not match or not match.group(1).strip():
            raise InvalidData(located(path, 1, "the first line must be 'Subject: <text>'"))
        rest = _NEWLINE.split(source[match.end() :], maxsplit=2)
        if len(rest) < 3 or rest[1].strip():
            raise InvalidData(located(path, 2, "the Subject line must be followed by an empty line"))
        errors: list[str] = []
        subject = self._compile(match.group(1), path, 0, errors)
        body = self._compile(rest[2], path, 2, errors)
        if subject is None or body is None:
            return None, errors
        parsed = _Parsed(subject[0], body[0], frozenset(subject[1] | body[1]))
        self._cache[name] = parsed
        return parsed, []

    def _source(self, name: str) -> str:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise NotFound(f"template '{name}' not found in {self.directory}")
        try:
            source, _, _ = self._loader.get_source(self._env, f"{name}.j2")
        except jinja2.TemplateNotFound:
            raise NotFound(f"template '{name}' not found in {self.directory}") from None
        except UnicodeDecodeError as exc:
            data = (self.directory / f"{name}.j2").read_bytes()
            line = data[: exc.start].count(b"\n") + 1
            raise InvalidData(located(self._path(name), line, "not valid UTF-8")) from None
        return str(source)

    def _compile(
        self, source: str, path: str, offset: int, errors: list[str]
    ) -> tuple[jinja2.Template, set[str]] | None:
        """Compile one part; `offset` is the number of file lines before it."""
        try:
            tree = self._env.parse(source)
            return self._env.from_string(tree), jinja2.meta.find_undeclared_variables(tree)
        except jinja2.TemplateSyntaxError as exc:
            errors.append(located(path, exc.lineno + offset, exc.message or "syntax error"))
            return None


class DocumentSet(TemplateSet):
    """Document templates (templates/documents/NAME.j2): Markdown made from a ticket, such as a
    knowledge article or an invoice. The same sandbox and strictness as emails; no Subject line."""

    def _path(self, name: str) -> str:
        return f"templates/documents/{name}.j2"

    def _load(self, name: str) -> tuple[_Parsed | None, list[str]]:
        if name in self._cache:
            return self._cache[name], []
        errors: list[str] = []
        body = self._compile(self._source(name), self._path(name), 0, errors)
        if body is None:
            return None, errors
        parsed = _Parsed(body[0], body[0], frozenset(body[1]))
        self._cache[name] = parsed
        return parsed, []

    def render_text(self, name: str, context: Mapping[str, object], *, ticket_id: str) -> str:
        return self._render_part(name, self._parse(name).body, dict(context), ticket_id)
