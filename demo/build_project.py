"""Builds the demo's QGIS project (.qgz) from demo_summary.json and renders the content maps to PNG.

The project holds the factor rasters, both surveys' samples, the content maps styled like the
plugin styles them, the uncertainty and true maps, and links to every report (project and layer
metadata). Run with Debian's /usr/bin/python3 (QGIS bindings), headless.
"""

import argparse
import json
import os
import pathlib
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (QgsAbstractMetadataBase, QgsApplication, QgsCoordinateReferenceSystem,
                       QgsLayoutExporter, QgsLayoutItemLabel, QgsLayoutItemLegend, QgsLayoutItemMap,
                       QgsLayoutItemScaleBar, QgsLayoutPoint, QgsLayoutSize, QgsMapLayerLegendUtils,
                       QgsGraduatedSymbolRenderer, QgsLayoutItemPicture, QgsMarkerSymbol,
                       QgsRendererRange,
                       QgsPrintLayout, QgsProject, QgsRasterLayer, QgsSingleSymbolRenderer,
                       QgsUnitTypes, QgsVectorLayer)
from osgeo import gdal
from qgis.PyQt.QtGui import QFont


def link(name, path, description):
    """A metadata link to a local file."""
    item = QgsAbstractMetadataBase.Link(name, "WWW:LINK", pathlib.Path(path).resolve().as_uri())
    item.description = description
    return item


def add_raster(project, group, path, name, style=None, value_range=None):
    """Add a raster to a group; optionally style it as a content or uncertainty map."""
    layer = QgsRasterLayer(str(path), name)
    if not layer.isValid():
        raise SystemExit(f"cannot load raster {path}")
    if style:
        from soilmetal.styles.rasters import apply_content_style
        apply_content_style(layer, style, name, value_range)
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    return layer


def add_samples(project, group, path, name, colour):
    """Add a survey's sample points with a visible marker."""
    layer = QgsVectorLayer(f"{path}|layername=samples", name, "ogr")
    if not layer.isValid():
        raise SystemExit(f"cannot load samples {path}")
    symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "outline_color": "black",
                                           "size": "2.4"})
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    return layer


def add_sample_values(project, group, path, field, name, breaks):
    """A survey's samples coloured by their measured value, in the content map's classes and
    colours, so a sample that disagrees with the map stands out."""
    from soilmetal.core.science import classes
    layer = QgsVectorLayer(f"{path}|layername=samples", name, "ogr")
    if not layer.isValid():
        raise SystemExit(f"cannot load samples {path}")
    count = len(breaks) - 1
    colours = classes.colours_for(count, classes.CONTENT_COLOURS)
    ranges = []
    for index in range(count):
        lower = -1e12 if index == 0 else breaks[index]
        upper = 1e12 if index == count - 1 else breaks[index + 1]
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colours[index],
                                               "outline_color": "black", "outline_width": "0.5",
                                               "size": "3.2"})
        text = (f"< {classes.break_text(upper)}" if index == 0 else
                f">= {classes.break_text(lower)}" if index == count - 1 else
                f"{classes.break_text(lower)} - {classes.break_text(upper)}")
        ranges.append(QgsRendererRange(lower, upper, symbol, f"{text} mg/kg"))
    layer.setRenderer(QgsGraduatedSymbolRenderer(field, ranges))
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    return layer


def north_arrow(layout, map_item, x, y):
    """A north arrow picture linked to the map (it turns with a rotated map)."""
    svg = "/usr/share/qgis/svg/arrows/NorthArrow_02.svg"
    if os.path.exists(svg):
        arrow = QgsLayoutItemPicture(layout)
        arrow.setPicturePath(svg)
        arrow.setLinkedMap(map_item)
        arrow.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))
        arrow.attemptResize(QgsLayoutSize(12, 16, QgsUnitTypes.LayoutMillimeters))
    else:   # no QGIS SVG library: a plain "N" with an arrow
        arrow = QgsLayoutItemLabel(layout)
        arrow.setText("\u2191\nN")
        arrow.setFont(QFont("DejaVu Sans", 14))
        arrow.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))
        arrow.attemptResize(QgsLayoutSize(12, 16, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(arrow)


def new_layout(project, width, height, title, size):
    """A print layout of width x height mm with its title at the top."""
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.pageCollection().page(0).setPageSize(QgsLayoutSize(width, height, QgsUnitTypes.LayoutMillimeters))
    add_label(layout, title, size, 6, 4, width - 12, 10)
    return layout


def add_label(layout, text, size, x, y, width, height):
    """A text label at (x, y) mm."""
    label = QgsLayoutItemLabel(layout)
    label.setText(text)
    label.setFont(QFont("DejaVu Sans", size))
    label.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))
    label.attemptResize(QgsLayoutSize(width, height, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(label)


def add_map(layout, layers, x, y, width, height):
    """A framed map item of layers (top first) at (x, y) mm, on the extent of the last layer."""
    map_item = QgsLayoutItemMap(layout)
    map_item.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutMillimeters))
    map_item.attemptResize(QgsLayoutSize(width, height, QgsUnitTypes.LayoutMillimeters))
    map_item.setLayers(layers)
    map_item.setCrs(layers[-1].crs())
    map_item.setExtent(layers[-1].extent())
    map_item.setFrameEnabled(True)
    layout.addLayoutItem(map_item)
    return map_item


def add_legend_and_scale(layout, map_item, layers, legend_at, scale_at, columns=1):
    """The legend of layers (no raster band header) and a 2 x 1 km scale bar, both linked to map_item."""
    legend = QgsLayoutItemLegend(layout)
    legend.setLinkedMap(map_item)
    legend.setAutoUpdateModel(False)
    legend.model().rootGroup().clear()
    for layer in layers:
        node = legend.model().rootGroup().addLayer(layer)
        if isinstance(layer, QgsRasterLayer):
            # Drop the "Band 1: ..." header; the layer name already says what the classes are.
            count = len(legend.model().layerLegendNodes(node))
            QgsMapLayerLegendUtils.setLegendNodeOrder(node, list(range(1, count)))
            legend.model().refreshLayerLegend(node)
    legend.setTitle("")
    legend.setColumnCount(columns)
    legend.attemptMove(QgsLayoutPoint(*legend_at, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(legend)
    scale = QgsLayoutItemScaleBar(layout)
    scale.setStyle("Single Box")
    scale.setLinkedMap(map_item)
    scale.applyDefaultSize()
    scale.setUnits(QgsUnitTypes.DistanceKilometers)
    scale.setNumberOfSegments(2)
    scale.setUnitsPerSegment(1)
    scale.setUnitLabel("km")
    scale.attemptMove(QgsLayoutPoint(*scale_at, QgsUnitTypes.LayoutMillimeters))
    layout.addLayoutItem(scale)


def export_png(layout, path, dpi):
    """Export the layout to a PNG."""
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = dpi
    settings.generateWorldFile = False
    settings.exportMetadata = False
    # The exporter tries to georeference the PNG through GDAL, which cannot update a PNG: the
    # message it prints is noise, the picture is written all the same.
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        QgsLayoutExporter(layout).exportToImage(str(path), settings)
    finally:
        gdal.PopErrorHandler()


def render(project, layers, title, path):
    """Export a print layout (title, map, legend, scale bar) of layers (top first) to a PNG."""
    layout = new_layout(project, 220, 165, title, 14)
    map_item = add_map(layout, layers, 6, 16, 150, 140)
    add_legend_and_scale(layout, map_item, layers, (160, 16), (160, 140))
    north_arrow(layout, map_item, 140, 20)
    export_png(layout, path, 110)


def render_panels(project, panels, legend_layers, title, path):
    """Export a print layout of maps side by side (panels: [(caption, layers top first)]), one
    shared legend below them and a scale bar, to a PNG."""
    width, gap = 92, 4
    layout = new_layout(project, gap + len(panels) * (width + gap), 172, title, 13)
    maps = []
    for index, (caption, layers) in enumerate(panels):
        left = gap + index * (width + gap)
        add_label(layout, caption, 10, left, 13, width, 7)
        maps.append(add_map(layout, layers, left, 20, width, 84))
    add_legend_and_scale(layout, maps[0], legend_layers, (gap, 106),
                         (gap + min(2, len(panels) - 1) * (width + gap), 108), columns=2)
    north_arrow(layout, maps[0], gap + width - 14, 22)
    export_png(layout, path, 90)


def build_project(out, data, summary):
    """Write out/soilmetal_demo.qgz and out/figures/*.png (QGIS must be running) -> the project path."""
    project = QgsProject.instance()
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:32649"))
    project.setTitle("soilmetal demo: Cu and Pb in topsoil, 2019 (the model each transfer verdict names)")
    root = project.layerTreeRoot()
    groups = {name: root.addGroup(name) for name in
              ("Samples", "Content maps 2019", "Content maps 2019 + kriged residuals", "Uncertainty 2019",
               "True content 2019 (demo only)", "Factors")}
    add_samples(project, groups["Samples"], data / "samples_2019.gpkg", "Samples 2019", "#ffffff")
    add_samples(project, groups["Samples"], data / "samples_2017.gpkg", "Samples 2017", "#333333")
    links = []
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    reports = sorted((out / "reports").glob("*.html"))
    for report in reports:
        links.append(link(report.stem, report, f"soilmetal report {report.name}"))
    for metal, entry in summary["metals"].items():
        label = metal.capitalize()
        if "map" not in entry:
            continue
        content = add_raster(project, groups["Content maps 2019"], entry["map"], f"{label} content 2019 (mg/kg)",
                             "content")
        metadata = content.metadata()
        metadata.setLinks([link for link in links if link.name.startswith(metal)])
        content.setMetadata(metadata)
        uncertainty = out / "maps" / f"{metal}_2019_uncertainty.tif"
        if uncertainty.exists():
            layer = add_raster(project, groups["Uncertainty 2019"], uncertainty,
                               f"{label} ensemble spread (mg/kg; model disagreement, not an error bar)", "uncertainty")
            layer.setCustomProperty("soilmetal/kind", "uncertainty")
        from soilmetal.styles.rasters import content_range
        model = entry.get("mapped_model", "Tr-GA-BP")
        kriged = None
        if entry.get("kriged_map"):
            # The same classes as the content map, so model map, kriged map and truth compare by eye.
            kriged = add_raster(project, groups["Content maps 2019 + kriged residuals"], entry["kriged_map"],
                                f"{label} content 2019, {model} + kriged residuals (mg/kg)", "content",
                                content_range(content))
        truth = data / f"true_{metal}_2019.tif"
        true_layer = None
        if truth.exists():
            true_layer = add_raster(project, groups["True content 2019 (demo only)"], truth,
                                    f"{label} true content 2019", "content", content_range(content))
        from soilmetal.core.workflows.statistics import map_content_breaks
        samples = add_sample_values(project, groups["Samples"], data / "samples_2019.gpkg", f"{metal}_mg_kg",
                                    f"{label} measured 2019 (mg/kg)",
                                    map_content_breaks(entry["map"]))
        render(project, [samples, content], f"{label} in topsoil, 2019: {model} content map (demo data)",
               figures / f"{metal}_2019.png")
        if kriged is not None and true_layer is not None:
            rows = entry.get("comparison", {})

            def caption(name, key):
                metrics = rows.get(key, {}).get("map")
                return name + (f": RMSE {metrics['RMSE']:.1f}, R² {metrics['R2']:.2f}" if metrics else "")
            render_panels(project, [(caption(model, model), [samples, content]),
                                    (caption(f"{model} + kriged residuals", f"{model} + kriged residuals"),
                                     [samples, kriged]),
                                    ("True content (demo truth)", [samples, true_layer])],
                          [content, samples], f"{label} 2019 (mg/kg): model map, with kriged residuals, "
                          "and the demo's true map", figures / f"{metal}_2019_kriged.png")
    for raster in sorted((out / "factors").glob("*.tif")):
        layer = add_raster(project, groups["Factors"], raster, raster.stem)
        layer.setCustomProperty("soilmetal/kind", "factors")
    for name in ("Uncertainty 2019", "True content 2019 (demo only)", "Factors"):
        groups[name].setItemVisibilityChecked(False)
    project_metadata = project.metadata()
    project_metadata.setAbstract("Content maps of Cu and Pb for 2019, each from the model its transfer verdict names "
                                 "(Tr-GA-BP when the transfer helps, else GA-BP on the 2019 samples), beside the "
                                 "maps with kriged residuals and the true maps, on synthetic demo data.")
    project_metadata.setLinks(links)
    project.setMetadata(project_metadata)
    target = out / "soilmetal_demo.qgz"
    if not project.write(str(target)):
        raise SystemExit(f"cannot write {target}")
    return target




def main():
    """Build demo-output/soilmetal_demo.qgz and demo-output/figures/*.png in a QGIS of its own."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.output).resolve()
    data = pathlib.Path(args.data).resolve()
    sys.path.insert(0, str(out / ".plugins"))
    summary = json.loads((out / "demo_summary.json").read_text())["summary"]
    app = QgsApplication([], False)
    app.initQgis()
    print(build_project(out, data, summary))
    app.exitQgis()


if __name__ == "__main__":
    main()
