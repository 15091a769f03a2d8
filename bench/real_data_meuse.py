"""GA-BP and Tr-GA-BP on real data: the Meuse floodplain samples (copper, lead) against terrain
factors of the AHN LiDAR DEM and the distance to the river. Prints markdown tables.

Data (tests/data/real/meuse, see its README.txt): 155 topsoil samples (ucdavis_meuse.csv,
EPSG:28992); the AHN DEM in centimetres on a 40 m grid (geomla_ahn.asc, no .prj: its CRS is
given in the .rdc); the normalised distance to the river on the 40 m cell centres of
meuse.grid (ucdavis_meuse.grid.csv, rasterised here onto the DEM's grid).

Factors: ELEVATION, SLOPE, NORTHNESS, EASTNESS (core.workflows.terrain_factors on the DEM, z in m) and DIST.
Chosen before looking at any result; ASPECT is left out because NORTHNESS and EASTNESS encode
it without the 0/360 jump.

(1) GA-BP against multiple linear regression (MLR, least squares with an intercept) and the
    mean of the training samples, on the same seeded 80/20 splits; median validation RMSE over
    the splits, for ENSEMBLE 1 and 5.
(2) Tr-GA-BP: the floodplain is split in two: by the y coordinate (north half = source,
    south half = target) and by flooding frequency (ffreq 1 = source, ffreq 2-3 = target).
    A GA-BP model is trained on the source part (80 % of it, as in the paper), then
    transferred with 16 target samples; every other target sample validates. Compared, on
    the same 16 samples and validation samples: GA-BP from scratch, MLR, the source model
    unchanged. Medians over the seeds, and how often Tr-GA-BP beats GA-BP from scratch.

(3) Spatial against random 5-fold cross-validation of GA-BP (ENSEMBLE 5), the training mean
    and MLR on all samples (core.science.cv_gabp, as traingabp runs it): the Meuse samples are
    clustered along the river, so holding out whole clusters (spatial) should give a higher
    RMSE than random folds, whose test samples have near neighbours in the training part.

The workflow functions are those behind the algorithms (core.workflows); no QGIS needed.
Usage: /usr/bin/python3 bench/real_data_meuse.py [--seeds 10] [--cv-seeds 3]
"""

import argparse
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from osgeo import gdal, osr  # noqa: E402

from core.science.cv_gabp import cross_validate_gabp  # noqa: E402
from core.science.gabp import GABPSettings  # noqa: E402
from core.science.metrics import regression_metrics  # noqa: E402
from core.science.splits import split_samples  # noqa: E402
from core.workflows.training import run_training  # noqa: E402
from core.workflows.transfer import run_transfer  # noqa: E402
from core.sampling import FactorSource, PointSet, PreparedSamples, prepare_samples  # noqa: E402
from core.workflows.terrain_factors import run_terrain_factors  # noqa: E402
from core.science.transfer import TransferSettings  # noqa: E402

gdal.UseExceptions()

DATA = ROOT / "tests" / "data" / "real" / "meuse"
EPSG = 28992
FACTORS = ["ELEVATION", "SLOPE", "NORTHNESS", "EASTNESS", "DIST"]
METALS = {"copper": "Cu", "lead": "Pb"}
TRAIN_SAMPLES = 16


def rd_new_wkt():
    """WKT of Amersfoort / RD New."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    return srs.ExportToWkt()


def build_factor_rasters(folder):
    """Terrain factors of the AHN DEM and DIST rasterised from meuse.grid -> [FactorSource]."""
    dem = folder / "ahn.tif"
    gdal.Translate(str(dem), str(DATA / "geomla_ahn.asc"), outputSRS=f"EPSG:{EPSG}",
                   outputType=gdal.GDT_Float32)
    terrain = folder / "terrain.tif"
    run_terrain_factors(str(dem), str(terrain), z_factor=0.01)     # AHN is in centimetres

    info = gdal.Open(str(dem))
    gt, width, height = info.GetGeoTransform(), info.RasterXSize, info.RasterYSize
    grid = pd.read_csv(DATA / "ucdavis_meuse.grid.csv")
    cols = np.floor((grid["x"].to_numpy() - gt[0]) / gt[1]).astype(int)
    rows = np.floor((grid["y"].to_numpy() - gt[3]) / gt[5]).astype(int)
    dist = np.full((height, width), -9999.0, dtype=np.float32)
    dist[rows, cols] = grid["dist"].to_numpy()
    out = gdal.GetDriverByName("GTiff").Create(str(folder / "dist.tif"), width, height, 1,
                                               gdal.GDT_Float32)
    out.SetGeoTransform(gt)
    out.SetProjection(rd_new_wkt())
    band = out.GetRasterBand(1)
    band.WriteArray(dist)
    band.SetNoDataValue(-9999.0)
    band.SetDescription("DIST")
    out = None
    return [FactorSource(str(terrain)), FactorSource(str(folder / "dist.tif"))]


def prepared_samples(sources, metal, table):
    """The Meuse samples of one metal with the factor values at their cells."""
    points = PointSet(ids=[str(i + 1) for i in range(len(table))], x=table["x"], y=table["y"],
                      values=table[metal], crs_wkt=rd_new_wkt(), field=metal)
    return prepare_samples(points, sources, FACTORS)


def meuse_samples(prefix="soilmetal_meuse_"):
    """(the sample CSV as a DataFrame, {metal: prepared samples}) on the factors built in a
    temporary folder (sampled, then the rasters go)."""
    table = pd.read_csv(DATA / "ucdavis_meuse.csv")
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        sources = build_factor_rasters(pathlib.Path(folder))
        prepared = {metal: prepared_samples(sources, metal, table) for metal in METALS}
    return table, prepared


def subset(prepared, mask):
    """PreparedSamples of the samples where mask is True."""
    return PreparedSamples(prepared.table.subset(mask), [], "none")


def mlr_rmse(x_train, y_train, x_test, y_test):
    """Validation RMSE of least squares with an intercept."""
    design = np.column_stack([np.ones(len(y_train)), x_train])
    coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
    predicted = np.column_stack([np.ones(len(y_test)), x_test]) @ coef
    return regression_metrics(y_test, predicted)["RMSE"]


def median(values):
    return float(np.median(values))


def wins(first, second, seeds):
    """'k of n': in how many of the n seeds the first RMSE is below the second."""
    return f"{sum(a < b for a, b in zip(first, second))} of {len(seeds)}"


def markdown_row(*cells):
    """One row of a markdown table."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def gabp_vs_mlr(prepared_by_metal, seeds):
    """Table (1): median validation RMSE of GA-BP (K 1, 5), MLR and the mean on 80/20 splits."""
    lines = ["| metal | samples | GA-BP, ENSEMBLE 1 | GA-BP, ENSEMBLE 5 | MLR | "
             "mean of training samples | GA-BP 5 better than MLR |",
             "|---|---|---|---|---|---|---|"]
    for metal, prepared in prepared_by_metal.items():
        x = prepared.table.factors[FACTORS].to_numpy(float)
        y = prepared.table.values
        results = {"g1": [], "g5": [], "mlr": [], "mean": []}
        for seed in seeds:
            for key, ensemble in (("g1", 1), ("g5", 5)):
                run = run_training(prepared, GABPSettings(seed=seed, ensemble=ensemble), 0.2,
                                   cv="none")
                results[key].append(run.summary["RMSE"])
            # run_training's split, recomputed: the same samples for MLR and the mean.
            split = run.split
            assert np.array_equal(split.validation, split_samples(
                len(y), 0.2, np.random.default_rng((7001, seed))).validation)
            results["mlr"].append(mlr_rmse(x[split.train], y[split.train],
                                           x[split.validation], y[split.validation]))
            results["mean"].append(run.mean_predictor["RMSE"])
        medians = [f"{median(results[key]):.1f}" for key in ("g1", "g5", "mlr", "mean")]
        lines.append(markdown_row(METALS[metal], len(y), *medians,
                                  wins(results["g5"], results["mlr"], seeds)))
    return "\n".join(lines)


def transfer_table(prepared_by_metal, table, seeds):
    """Table (2): Tr-GA-BP vs GA-BP from scratch, MLR on 16 and the source unchanged."""
    schemes = {
        "north -> south (y)": table["y"].to_numpy() >= np.median(table["y"]),
        "ffreq 1 -> ffreq 2-3": table["ffreq"].to_numpy() == 1,
    }
    lines = ["| metal | source -> target (samples) | ENSEMBLE | source model, own validation | "
             "Tr-GA-BP | GA-BP from scratch on 16 | MLR on 16 | source unchanged | "
             "Tr-GA-BP MRE | GA-BP MRE | Tr-GA-BP beats GA-BP |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for metal, prepared in prepared_by_metal.items():
        ids = np.array(prepared.table.ids, dtype=int) - 1    # rows of the CSV
        for name, source_mask in schemes.items():
            source = subset(prepared, source_mask[ids])
            target = subset(prepared, ~source_mask[ids])
            xt = target.table.factors[FACTORS].to_numpy(float)
            yt = target.table.values
            for ensemble in (1, 5):
                rows = {key: [] for key in ("own", "tr", "base", "mlr", "src", "tr_mre", "base_mre")}
                for seed in seeds:
                    trained = run_training(source, GABPSettings(seed=seed, ensemble=ensemble), 0.2,
                                           cv="none")
                    run = run_transfer(trained.model, "", target, TransferSettings(seed=seed),
                                       train_samples=TRAIN_SAMPLES, validation_fraction=1.0,
                                       ensemble=ensemble, cv="none")
                    summary, split = run.summary, run.split
                    rows["own"].append(trained.summary["RMSE"])
                    rows["tr"].append(summary["RMSE"])
                    rows["base"].append(summary["BASELINE_RMSE"])
                    rows["src"].append(summary["SOURCE_RMSE"])
                    rows["tr_mre"].append(summary["MRE"])
                    rows["base_mre"].append(summary["BASELINE_MRE"])
                    rows["mlr"].append(mlr_rmse(xt[split.train], yt[split.train],
                                                xt[split.validation], yt[split.validation]))
                rmses = [f"{median(rows[key]):.1f}" for key in ("own", "tr", "base", "mlr", "src")]
                mres = [f"{median(rows[key]):.3f}" for key in ("tr_mre", "base_mre")]
                lines.append(markdown_row(METALS[metal], f"{name} ({len(source.table)} -> {len(target.table)})",
                                          ensemble, *rmses, *mres, wins(rows["tr"], rows["base"], seeds)))
    return "\n".join(lines)


def cv_table(prepared_by_metal, seeds):
    """Table (3): median 5-fold CV RMSE, spatial vs random, of GA-BP (K 5), the mean and MLR."""
    lines = ["| metal | samples | CV | GA-BP, ENSEMBLE 5 | training mean | MLR | "
             "GA-BP R\u00b2 |", "|---|---|---|---|---|---|---|"]
    for metal, prepared in prepared_by_metal.items():
        table = prepared.table
        x = table.factors[FACTORS].to_numpy(float)
        coordinates = np.column_stack([table.x, table.y])
        for scheme in ("random", "spatial"):
            rows = {"gabp": [], "mean": [], "mlr": [], "r2": []}
            for seed in seeds:
                cv = cross_validate_gabp(x, table.values, coordinates, FACTORS,
                                         GABPSettings(seed=seed, ensemble=5), scheme, 5)
                rows["gabp"].append(cv["metrics"]["RMSE"])
                rows["mean"].append(cv["mean_metrics"]["RMSE"])
                rows["mlr"].append(cv["mlr_metrics"]["RMSE"])
                rows["r2"].append(cv["metrics"]["R2"])
            lines.append(f"| {METALS[metal]} | {len(table)} | {scheme} | "
                         f"{median(rows['gabp']):.1f} | {median(rows['mean']):.1f} | "
                         f"{median(rows['mlr']):.1f} | {median(rows['r2']):.2f} |")
    return "\n".join(lines)


def main():
    """Build the factors, run both comparisons, print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cv-seeds", type=int, default=3,
                        help="seeds (folds and networks) of the cross-validation table")
    arguments = parser.parse_args()
    seeds = list(range(arguments.seeds))
    start = time.perf_counter()
    table, prepared = meuse_samples()
    dropped = prepared["copper"].table.dropped
    print(f"Meuse: {len(table)} samples, {len(prepared['copper'].table)} with every factor "
          f"({len(dropped)} dropped: {', '.join(f'{sid} ({why})' for sid, why in dropped) or 'none'}). "
          f"Factors: {', '.join(FACTORS)}. Seeds: {len(seeds)}. RMSE in mg/kg, medians over "
          "the seeds.\n")
    print("### GA-BP vs multiple linear regression (80/20 splits, validation RMSE)\n")
    print(gabp_vs_mlr(prepared, seeds))
    print("\n### Tr-GA-BP with 16 target samples (validation on every other target sample)\n")
    print(transfer_table(prepared, table, seeds))
    print("\n### Spatial vs random 5-fold cross-validation on all samples (CV RMSE)\n")
    print(cv_table(prepared, list(range(arguments.cv_seeds))))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
