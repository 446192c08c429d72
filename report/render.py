"""Render one report object as JSON, CSV, XLSX or PDF, byte for byte the same every time."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from report.model import Cell, Plot, Report

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing

FORMATS = ("json", "csv", "xlsx", "pdf")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip entry can carry: every XLSX entry gets it."""


def render(report: Report, fmt: str) -> bytes:
    """The report in one of ``FORMATS``; ValueError naming the formats for any other."""
    renderers: dict[str, Callable[[Report], bytes]] = {
        "json": to_json, "csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf,
    }
    if fmt not in renderers:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    return renderers[fmt](report)


def to_json(report: Report) -> bytes:
    """Machine-readable: everything the report states, its inputs and its digest."""
    data = {**report.body(), "digest": report.digest}
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
            + "\n").encode()


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def to_csv(report: Report) -> bytes:
    """One CSV: header lines, the inputs, the statements, then each table after a title line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["report", report.kind])
    writer.writerow(["title", report.title])
    writer.writerow(["digest", report.digest])
    for key, value in sorted(report.inputs.items()):
        writer.writerow(["input", key, json.dumps(value, sort_keys=True, ensure_ascii=False)])
    for statement in report.statements:
        writer.writerow(["statement", statement])
    for table in report.tables:
        writer.writerow([])
        writer.writerow(["table", table.name, table.title])
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_cell(c) for c in row])
    return out.getvalue().encode()


def _fixed_time(report: Report) -> datetime:
    """The report's own time (its ``as_of``), used wherever a format wants a date."""
    text = str(report.inputs.get("as_of", "2000-01-01T00:00:00+00:00"))
    return datetime.fromisoformat(text).replace(tzinfo=None)


def to_xlsx(report: Report) -> bytes:
    """A workbook: an inputs sheet, then one sheet per table; fixed properties and zip times."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "report"
    sheet.append(["report", report.kind])
    sheet.append(["title", report.title])
    sheet.append(["digest", report.digest])
    for key, value in sorted(report.inputs.items()):
        sheet.append(["input", key, json.dumps(value, sort_keys=True, ensure_ascii=False)])
    for statement in report.statements:
        sheet.append(["statement", statement])
    for table in report.tables:
        page = book.create_sheet(table.name[:31])
        page.append([table.title])
        page.append(list(table.columns))
        for row in table.rows:
            page.append(list(row))
    moment = _fixed_time(report)
    book.properties.creator = "GeoSCADA"
    book.properties.lastModifiedBy = "GeoSCADA"
    book.properties.title = report.title
    book.properties.created = moment
    book.properties.modified = moment
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_zip(raw.getvalue(), moment)


def _fixed_zip(data: bytes, moment: datetime) -> bytes:
    """The same archive with every entry's time fixed and core properties' dates pinned."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _pin_dates(content, stamp)
            entry = zipfile.ZipInfo(info.filename, ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return out.getvalue()


def _pin_dates(core: bytes, stamp: bytes) -> bytes:
    import re

    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                  rb"\g<1>" + stamp + rb"\g<2>", core)


def _latin(text: str) -> str:
    """The PDF's standard fonts cover Latin-1 only: anything else becomes '?'."""
    return (text.replace("≥", ">=").replace("≤", "<=").replace("³", "3").replace("²", "2")
            .encode("latin-1", "replace").decode("latin-1"))


def to_pdf(report: Report) -> bytes:
    """A PDF with the inputs, the statements, every table and every plot; invariant metadata."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), invariant=1, title=_latin(report.title),
        author="GeoSCADA", subject=f"{report.kind} report, digest {report.digest}",
        creator="GeoSCADA report", producer="GeoSCADA report",
        leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
    )

    def para(text: str, style: object = small) -> Paragraph:
        return Paragraph(escape(_latin(text)), style)  # type: ignore[arg-type]

    story: list[object] = [para(report.title, styles["Title"]),
                           para(f"Digest (SHA-256 over inputs and content): {report.digest}")]
    story.append(Spacer(1, 3 * mm))
    story.append(para("Inputs", styles["Heading2"]))
    inputs = [[para(key), para(json.dumps(value, sort_keys=True, ensure_ascii=False))]
              for key, value in sorted(report.inputs.items())]
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    story.append(Table(inputs, colWidths=[40 * mm, 225 * mm], style=[
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(para("Statements", styles["Heading2"]))
    for statement in report.statements:
        story.append(para(statement, styles["BodyText"]))
    for table in report.tables:
        rows = [[para(c) for c in table.columns]]
        rows += [[para(_cell(c)) for c in row] for row in table.rows]
        story.append(KeepTogether([para(table.title, styles["Heading2"])]))
        story.append(Table(rows, repeatRows=1, style=grid))
    story.append(PageBreak())
    for plot in report.plots:
        story.append(KeepTogether([para(plot.title, styles["Heading2"]), _drawing(plot)]))
    doc.build(story)  # type: ignore[arg-type]
    return buffer.getvalue()


PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#843c0c")


def _drawing(plot: Plot) -> Drawing:
    """A line chart drawn with plain strokes: axes, ticks, one polyline per series, legend."""
    from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
    from reportlab.lib import colors

    width, height = 760.0, 210.0
    left, bottom, right, top = 50.0, 30.0, 130.0, 16.0
    drawing = Drawing(width, height)
    values = [v for _, series in plot.series for v in series if v is not None]
    if plot.threshold is not None:
        values.append(plot.threshold)
    low = min([0.0, *values])
    high = max([1.0, *values]) if values else 1.0
    if high <= low:
        high = low + 1.0
    span_x = max(len(plot.x) - 1, 1)
    plot_w, plot_h = width - left - right, height - bottom - top

    def px(i: int) -> float:
        return left + plot_w * i / span_x

    def py(v: float) -> float:
        return bottom + plot_h * (v - low) / (high - low)

    axis = colors.HexColor("#404040")
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeColor=axis))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeColor=axis))
    for k in range(5):
        value = low + (high - low) * k / 4
        drawing.add(Line(left - 3, py(value), left, py(value), strokeColor=axis))
        drawing.add(String(left - 5, py(value) - 3, f"{value:.4g}", fontSize=7,
                           textAnchor="end"))
    drawing.add(String(left, height - 9, _latin(plot.y_label), fontSize=7))
    step = max(1, len(plot.x) // 8)
    for i in range(0, len(plot.x), step):
        drawing.add(Line(px(i), bottom, px(i), bottom - 3, strokeColor=axis))
        drawing.add(String(px(i), bottom - 12, plot.x[i], fontSize=6, textAnchor="middle"))
    if plot.threshold is not None:
        drawing.add(Line(left, py(plot.threshold), left + plot_w, py(plot.threshold),
                         strokeColor=colors.red, strokeDashArray=[4, 3]))
    for number, (name, series) in enumerate(plot.series):
        colour = colors.HexColor(PALETTE[number % len(PALETTE)])
        segment: list[float] = []
        for i, point in enumerate([*series, None]):
            if point is not None:
                segment += [px(i), py(point)]
                continue
            if len(segment) >= 4:
                drawing.add(PolyLine(segment, strokeColor=colour, strokeWidth=1.2))
            elif len(segment) == 2:
                drawing.add(Line(segment[0] - 1, segment[1], segment[0] + 1, segment[1],
                                 strokeColor=colour, strokeWidth=1.2))
            segment = []
        y = bottom + plot_h - 12 * number
        drawing.add(Line(width - right + 8, y, width - right + 22, y, strokeColor=colour,
                         strokeWidth=2))
        drawing.add(String(width - right + 26, y - 3, _latin(name), fontSize=7))
    return drawing
