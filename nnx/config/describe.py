"""What `nnx-plugins` prints: each plugin's fields with their types, defaults and help.

The help is the field's ``metadata["help"]``: a plugin's dataclass is the one source of its
defaults and help (Hydra composes its options from the same dataclass, `nnx.config.options`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from nnx.registry import KINDS, Plugin, list_plugins, load_all, plugin_package

__all__ = ["FieldInfo", "fields_of", "listing", "details", "kinds_with"]


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    default: object
    help: str


def _default(f: dataclasses.Field) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "???"


def fields_of(schema: type) -> list[FieldInfo]:
    """The config fields of a plugin schema, in declaration order."""
    hints = typing.get_type_hints(schema)
    return [
        FieldInfo(f.name, str(hints[f.name]).replace("typing.", "").replace("<class '", "")
                  .replace("'>", ""), _default(f), f.metadata.get("help", ""))
        for f in dataclasses.fields(schema)
    ]


def _compact(plugin: Plugin) -> str:
    return " ".join(f"{f.name}={f.default!r}" for f in fields_of(plugin.config))


def listing(kinds: typing.Iterable[str] = tuple(KINDS)) -> str:
    """Every plugin of the given kinds: name, one-line doc, package, then its defaults."""
    lines = []
    for kind in kinds:
        several = " or several: callbacks=[NAME,NAME]" if kind == "callbacks" else ""
        lines.append(f"{kind} (select with {kind}=NAME{several})")
        for plugin in load_all(kind):
            package = plugin_package(kind, plugin.name)
            lines.append(f"  {plugin.name:<14} {plugin.doc}  [{package}]")
            fields = _compact(plugin)
            if fields:
                lines.append(f"  {'':<14}   {fields}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def details(plugin: Plugin) -> str:
    """One plugin in full: every field with its type, default and help."""
    lines = [
        f"{plugin.kind} plugin '{plugin.name}': {plugin.doc}",
        f"  from {plugin_package(plugin.kind, plugin.name)} ({plugin.source}), "
        f"config {plugin.config.__name__}",
        f"  override with: nnx {plugin.kind}={plugin.name} {_node(plugin)}.FIELD=VALUE",
        "",
    ]
    if plugin.kind == "metrics":  # selected among several, and it declares how it compares
        from nnx.config.metrics import declared

        found = declared(plugin.name)
        lines[2] = f"  override with: nnx metrics=[{plugin.name}] metrics.{plugin.name}.FIELD=VALUE"
        lines.insert(3, f"  better: {found.direction}; reads {found.reads}; fits {', '.join(found.tasks)}")
    infos = fields_of(plugin.config)
    width = max((len(f"{f.name}: {f.type} = {f.default!r}") for f in infos), default=0)
    for f in infos:
        head = f"{f.name}: {f.type} = {f.default!r}"
        lines.append(f"  {head:<{width}}  # {f.help}" if f.help else f"  {head}")
    return "\n".join(lines) + "\n"


def kinds_with(name: str) -> list[str]:
    """Kinds that have a plugin called ``name`` (a name may be both a model and a dataset)."""
    return [kind for kind in KINDS if name in list_plugins(kind)]


def _node(plugin: Plugin) -> str:
    """Where a plugin's fields are: ``model``, or ``callbacks.<name>`` (one node per callback)."""
    return f"callbacks.{plugin.name}" if plugin.kind == "callbacks" else plugin.kind
