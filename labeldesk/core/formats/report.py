"""What an import or export did: counts, refused items with their location and reason, notes.

A *refused* item was left out (``annotations[17]: class 'dog' is not in the ontology``); a *note*
says something was changed or converted on the way but kept (``annotations[3]: clipped to the
640x480 image``). Both name where in the input (or, for exports, which annotation) they concern.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}" if self.location else self.reason


@dataclass
class InterchangeReport:
    direction: str                      # "import" | "export"
    fmt: str
    path: str
    imported: int = 0                   # annotations and classifications written to the project
    exported: int = 0                   # annotations and classifications written to files
    refused: list[Item] = field(default_factory=list)
    notes: list[Item] = field(default_factory=list)
    created_classes: list[str] = field(default_factory=list)
    created_layers: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    by_kind: Counter = field(default_factory=Counter)
    cancelled: bool = False
    # Import only: the inverse drafts of the import, newest first (one apply_all undoes it).
    undo: list[Any] = field(default_factory=list, repr=False)

    def refuse(self, location: Any, reason: str) -> None:
        self.refused.append(Item(str(location), reason))      # (a reader may give a lazy location)

    def note(self, location: Any, reason: str) -> None:
        self.notes.append(Item(str(location), reason))

    def count(self, kind: str, n: int = 1) -> None:
        self.by_kind[kind] += n
        if self.direction == "import":
            self.imported += n
        else:
            self.exported += n

    def summary(self) -> str:
        verb, n = ("imported", self.imported) if self.direction == "import" else ("exported", self.exported)
        kinds = ", ".join(f"{v} {k}" for k, v in sorted(self.by_kind.items()))
        text = f"{verb} {n} item(s)" + (f" ({kinds})" if kinds else "")
        text += f" {'from' if self.direction == 'import' else 'to'} {self.path}"
        if self.refused:
            text += f"; refused {len(self.refused)}"
        if self.notes:
            text += f"; {len(self.notes)} note(s)"
        if self.created_classes:
            text += "; created classes: " + ", ".join(self.created_classes)
        if self.created_layers:
            text += "; created layers: " + ", ".join(self.created_layers)
        if self.cancelled:
            text += " (cancelled: nothing was " + ("changed)" if self.direction == "import" else "written)")
        return text

    def reasons(self) -> Counter:
        """Refusals counted by reason (for a short summary of a long list)."""
        return Counter(i.reason for i in self.refused)

    def lines(self, limit: int | None = 50) -> list[str]:
        out = [self.summary()]
        for title, items in (("refused", self.refused), ("note", self.notes)):
            shown = items if limit is None else items[:limit]
            out += [f"{title:<8} {i}" for i in shown]
            if len(items) > len(shown):
                out.append(f"{title:<8} ... and {len(items) - len(shown)} more")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "format": self.fmt, "path": self.path,
                "imported": self.imported, "exported": self.exported, "by_kind": dict(self.by_kind),
                "refused": [{"location": i.location, "reason": i.reason} for i in self.refused],
                "notes": [{"location": i.location, "reason": i.reason} for i in self.notes],
                "created_classes": self.created_classes, "created_layers": self.created_layers,
                "files": self.files, "cancelled": self.cancelled}
