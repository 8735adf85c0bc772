"""Which image files a folder holds, with which labels, in which split.

Three layouts: one sub-folder per class (``DIR/cat/1.png``); the same under ``train/``,
``val/``, ``test/`` sub-folders (those present fix the split); or ``data.index``, a CSV of
``path,label`` rows (paths relative to the folder). Every file is opened once here (its
header only), so a file that is not an image fails before anything is decoded or trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from nnx.config.checks import SPLITS
from nnx.errors import DataError, first_line

__all__ = ["Listing", "list_images"]

log = logging.getLogger("nnx")

_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclass
class Listing:
    """Files and class labels per split (a split without files is cut from ``train``)."""

    classes: list[str]
    files: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, list[int]] = field(default_factory=dict)
    colour: bool = False  # some image has colour channels
    first_size: tuple[int, int] = (0, 0)  # (height, width) of the first training image


def _files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _class_folders(folder: Path) -> dict[str, list[Path]]:
    return {d.name: _files_of(d) for d in sorted(folder.iterdir())
            if d.is_dir() and not d.name.startswith(".")}


def _read_index(root: Path, index: str) -> dict[str, list[Path]]:
    import pandas as pd

    file = Path(index).expanduser()
    file = file if file.is_absolute() or file.is_file() else root / file
    if not file.is_file():
        raise DataError(f"Index file {file} not found (data.index: a CSV of path,label rows).")
    try:
        frame = pd.read_csv(file, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"Index file {file} cannot be read as CSV: {first_line(error)}.") from None
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise DataError(f"Index file {file} has no column '{missing[0]}'; it needs the columns "
                        f"path,label (it has {', '.join(map(str, frame.columns))}).")
    by_class: dict[str, list[Path]] = {}
    for path, label in zip(frame["path"], frame["label"], strict=True):
        by_class.setdefault(str(label), []).append(root / str(path))
    return dict(sorted(by_class.items()))


def _check_header(path: Path) -> tuple[tuple[int, int], bool]:
    """``(height, width)`` and whether it has colour, from the header; an error if not an image."""
    from PIL import Image

    if not path.is_file():
        raise DataError(f"Image file {path} not found.")
    with Image.open(path) as image:
        return (image.height, image.width), image.mode not in _GREY_MODES


def list_images(path: str, index: str | None, on_bad_image: str) -> Listing:
    """The images under ``path`` by split and class; one `DataError` for a layout that cannot
    be trained on (no folder, no classes, one class, an empty class, a file that is no image)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"Image folder {root} not found (data.path).")
    if index:
        parts = {"train": _read_index(root, index)}
    elif (root / "train").is_dir():
        parts = {s: _class_folders(root / s) for s in SPLITS if (root / s).is_dir()}
    else:
        parts = {"train": _class_folders(root)}
    classes = sorted({name for by_class in parts.values() for name in by_class})
    where = f"{root}" + (f" (index {index})" if index else "")
    if not classes:
        raise DataError(f"Image folder {where} holds no class folders: put each class's images in "
                        f"a sub-folder of its own ({root}/<class>/<image>), or set data.index.")
    if len(classes) < 2:
        raise DataError(f"Image folder {where} holds one class ('{classes[0]}'); a classifier "
                        "needs at least two class folders.")
    listing = Listing(classes)
    skipped: list[str] = []
    for split, by_class in parts.items():
        files, labels = listing.files.setdefault(split, []), listing.labels.setdefault(split, [])
        for name, paths in by_class.items():
            kept = 0
            for file in paths:
                try:
                    size, colour = _check_header(file)
                except DataError:
                    raise
                except Exception as error:  # noqa: BLE001 - Pillow raises many kinds for a bad file
                    if on_bad_image == "skip":
                        skipped.append(str(file))
                        continue
                    raise DataError(f"{file} is not an image ({first_line(error)}); remove it, or "
                                    "set data.on_bad_image=skip to leave such files out.") from None
                if listing.first_size == (0, 0):
                    listing.first_size = size
                listing.colour |= colour
                files.append(str(file))
                labels.append(classes.index(name))
                kept += 1
            if not kept:
                raise DataError(f"Class '{name}' of {where} holds no images"
                                + (f" ({len(paths)} files that are not images)" if paths else "")
                                + "; remove the folder or add images.")
    if skipped:
        log.warning("data image_folder: skipped %d files that are not images (data.on_bad_image="
                    "skip), the first: %s", len(skipped), skipped[0])
    return listing
