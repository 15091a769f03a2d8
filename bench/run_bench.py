"""`make bench`: figures measured side by side in one run on this machine, written to BENCHMARKS.md.

- predictcontent on a full Landsat scene of factors (7,801 x 7,681 pixels, 9 Float32 bands)
  against an I/O floor: a plain GDAL pass that reads the same bands block by block and writes
  one Float32 band with the same creation options;
- spectralindices on a full scene (7 UInt16 bands) against the same kind of floor (read the
  six bands used, write the same number of Float32 bands);
- topographiccorrection (C-correction, two block passes) of the full 7-band scene with a DEM on
  its grid, against a floor that reads the seven bands and the DEM and writes seven bands;
- GA-BP training at the paper's setting, the ensemble's cost per member, and the transfer;
- predictcontent with RESIDUAL_KRIGING (1,000 samples with cross-validated residuals, 16
  neighbours) against predictcontent without it, and the kriging kernel alone on 1,000,000
  pixels (goal: at most 2 x the time without kriging, peak memory under 1 GB).

Each measured run is its own process, so its peak memory (max RSS) is its own.
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 7801, 7681
ROUNDS = 2  # each pass and its floor, alternately; the fastest run of each is reported
FACTOR_NAMES = ["B2", "B3", "B4", "EVI", "CMR", "NDVI", "MNDWI", "ASPECT", "ELEVATION"]


def _smooth_field(rng, rows, cols, row0, scale):
    """A smooth-ish test field for one block (so DEFLATE sees realistic, compressible data)."""
    import numpy as np
    y = (np.arange(rows)[:, None] + row0) / 900.0
    x = np.arange(cols)[None, :] / 900.0
    phase = rng.uniform(0, 6.28, 3)
    base = np.sin(x * 3 + phase[0]) * np.cos(y * 2 + phase[1]) + 0.5 * np.sin((x + y) * 7 + phase[2])
    return (base * scale + rng.normal(0, scale * 0.05, (rows, cols))).astype("float32")


def make_inputs(folder):
    """Create (once) the full-scene factor stack, the 7-band Landsat scene and a 9-factor model."""
    import numpy as np
    from osgeo import gdal, osr
    from core.raster_io import CREATION_OPTIONS
    folder.mkdir(parents=True, exist_ok=True)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    transform = (200000.0, 30.0, 0.0, 3800000.0, 0.0, -30.0)
    factors, landsat, model = folder / "factors_full.tif", folder / "landsat_full.tif", folder / "model.json"
    rng = np.random.default_rng(1)
    if not factors.exists():
        ds = gdal.GetDriverByName("GTiff").Create(str(factors), WIDTH, HEIGHT, len(FACTOR_NAMES),
                                                  gdal.GDT_Float32, CREATION_OPTIONS)
        ds.SetGeoTransform(transform)
        ds.SetProjection(srs.ExportToWkt())
        for index, name in enumerate(FACTOR_NAMES, start=1):
            band = ds.GetRasterBand(index)
            band.SetDescription(name)
            band.SetNoDataValue(-9999.0)
            for row0 in range(0, HEIGHT, 1024):
                rows = min(1024, HEIGHT - row0)
                band.WriteArray(_smooth_field(rng, rows, WIDTH, row0, 100.0 + index), 0, row0)
        ds = None
    if not landsat.exists():
        options = ["TILED=YES", "COMPRESS=DEFLATE", "PREDICTOR=2", "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER"]
        ds = gdal.GetDriverByName("GTiff").Create(str(landsat), WIDTH, HEIGHT, 7, gdal.GDT_UInt16, options)
        ds.SetGeoTransform(transform)
        ds.SetProjection(srs.ExportToWkt())
        for index in range(1, 8):
            band = ds.GetRasterBand(index)
            band.SetNoDataValue(0)
            band.SetDescription(f"B{index}")
            for row0 in range(0, HEIGHT, 1024):
                rows = min(1024, HEIGHT - row0)
                reflectance = 0.1 + 0.05 * index / 7 + 0.04 * _smooth_field(rng, rows, WIDTH, row0, 1.0)
                band.WriteArray(np.clip((reflectance + 0.2) / 0.0000275, 1, 65535).astype("uint16"), 0, row0)
        ds = None
    if not model.exists():
        from core.science.gabp import GABPSettings, train_gabp
        from core.model_file import save_model
        x = rng.normal(0, 100, (44, len(FACTOR_NAMES)))
        y = 40 + 0.1 * x[:, 0] - 0.05 * x[:, 3] + rng.normal(0, 3, 44)
        save_model(train_gabp(x, y, FACTOR_NAMES, GABPSettings(ensemble=1, seed=0), metal="Cu"), str(model))
    return factors, landsat, model


def make_dem(folder):
    """Create (once) a Float32 DEM of hills on the full scene's grid, for the topographic pass."""
    import numpy as np
    from osgeo import gdal, osr
    from core.raster_io import CREATION_OPTIONS
    dem = folder / "dem_full.tif"
    if dem.exists():
        return dem
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    ds = gdal.GetDriverByName("GTiff").Create(str(dem), WIDTH, HEIGHT, 1, gdal.GDT_Float32, CREATION_OPTIONS)
    ds.SetGeoTransform((200000.0, 30.0, 0.0, 3800000.0, 0.0, -30.0))
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-9999.0)
    for row0 in range(0, HEIGHT, 1024):
        rows = min(1024, HEIGHT - row0)
        y = (np.arange(rows)[:, None] + row0) * 30.0
        x = np.arange(WIDTH)[None, :] * 30.0
        band.WriteArray((1500 + 400 * np.sin(x / 2500.0) * np.cos(y / 1800.0)).astype("float32"), 0, row0)
    ds = None
    return dem


KRIGING_SAMPLES = 1000


def make_kriging_model(folder, model_path):
    """(Once) the benchmark model with 1,000 samples over the scene and cross-validated residuals
    holding a smooth spatial field, as traingabp writes them (samples, cv, cv['kriging'])."""
    import numpy as np
    from core.science.cv import baseline_oof
    from core.science.cv_gabp import cv_record, samples_record
    from core.workflows.kriging_record import kriging_record
    from core.model_file import load_model, save_model
    path = folder / "model_rk.json"
    if path.exists():
        return path
    model = load_model(str(model_path))
    rng = np.random.default_rng(2)
    n = KRIGING_SAMPLES
    x = rng.uniform(200000.0, 200000.0 + 30.0 * WIDTH, n)
    y = rng.uniform(3800000.0 - 30.0 * HEIGHT, 3800000.0, n)
    factors = rng.normal(0, 100, (n, len(FACTOR_NAMES)))
    prediction = model.predict(factors)[0]
    residual = (6 * np.sin(x / 9000.0) * np.cos(y / 7000.0) + 4 * np.sin((x + y) / 15000.0)
                + rng.normal(0, 2, n))
    observed = np.maximum(prediction + residual, 0.1)
    labels = np.arange(n) % 5
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    model.samples = samples_record(srs.ExportToWkt(), [str(i) for i in range(n)], x, y, factors,
                                   observed, ["train"] * n)
    model.cv = cv_record("random", labels, observed, prediction,
                         baseline_oof(factors, observed, labels, False), False)
    model.cv["kriging"] = kriging_record(model)[0]
    save_model(model, str(path))
    return path


def measure(task, *args):
    """Run `python run_bench.py --task TASK ARGS` in a child; (wall seconds, peak MiB, its JSON output)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--task", task, *map(str, args)],
                            stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"benchmark task {task} failed")
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    return seconds, payload.pop("peak_mib", float("nan")), payload


def peak_memory_mib():
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def best_of(rounds, *measurements):
    """Run the measurements alternately, `rounds` times, and keep each one's fastest run: the
    floor and our pass then see the same machine state (page cache, other load)."""
    results = [[] for _ in measurements]
    for _ in range(rounds):
        for slot, (task, args) in enumerate(measurements):
            results[slot].append(measure(task, *args))
    return [min(runs, key=lambda run: run[0]) for runs in results]


def report(payload):
    """Print a task's JSON result with its own peak memory."""
    payload["peak_mib"] = peak_memory_mib()
    print(json.dumps(payload))


def task_floor(source, output, read_bands, write_bands, gain=1.0, offset=0.0):
    """I/O floor: read `read_bands` block by block with plain GDAL and write `write_bands` Float32
    bands of their mean times gain plus offset (for Landsat integers: reflectance-scale values,
    which compress like the indices do; raw integer sums would make the floor slower than a
    real pass)."""
    import numpy as np
    from osgeo import gdal
    from core.blocks import iter_blocks
    from core.raster_io import CREATION_OPTIONS
    src = gdal.Open(str(source))
    dst = gdal.GetDriverByName("GTiff").Create(str(output), src.RasterXSize, src.RasterYSize, int(write_bands),
                                               gdal.GDT_Float32, CREATION_OPTIONS)
    dst.SetGeoTransform(src.GetGeoTransform())
    dst.SetProjection(src.GetProjection())
    bands = [int(b) for b in str(read_bands).split(",")]
    for window in iter_blocks(src.RasterXSize, src.RasterYSize):
        total = None
        for number in bands:
            block = src.GetRasterBand(number).ReadAsArray(window.xoff, window.yoff, window.xsize, window.ysize)
            total = block.astype(np.float32) if total is None else total + block
        total *= np.float32(float(gain) / len(bands))
        total += np.float32(float(offset))
        for out_band in range(1, int(write_bands) + 1):
            dst.GetRasterBand(out_band).WriteArray(total, window.xoff, window.yoff)
    dst = None
    report({})


def task_predict(model, factors, output):
    """predictcontent's core on the full scene."""
    from core.model_file import load_model
    from core.workflows.mapping import predict_map
    from core.sampling import FactorSource
    summary = predict_map(load_model(str(model)), [FactorSource(str(factors))], str(output))
    report({"pixels_mapped": summary["pixels_mapped"]})


def task_predict_rk(model, factors, output):
    """predictcontent's core on the full scene with RESIDUAL_KRIGING (16 neighbours)."""
    from core.model_file import load_model
    from core.workflows.mapping import predict_map
    from core.sampling import FactorSource
    summary = predict_map(load_model(str(model)), [FactorSource(str(factors))], str(output),
                          residual_kriging=True, kriging_neighbours=16)
    report({"pixels_mapped": summary["pixels_mapped"]})


def task_kriging_kernel():
    """Ordinary kriging alone: 1,000,000 pixel centres (a 1000 x 1000 block of 30 m pixels),
    1,000 samples, 16 neighbours, every pixel exact; CPU seconds too."""
    import numpy as np
    from core.science.kriging import OrdinaryKriging
    from core.science.variogram import VariogramModel
    rng = np.random.default_rng(0)
    sx, sy = rng.uniform(0, 30000.0, KRIGING_SAMPLES), rng.uniform(0, 30000.0, KRIGING_SAMPLES)
    kriging = OrdinaryKriging(sx, sy, rng.normal(size=KRIGING_SAMPLES),
                              VariogramModel("spherical", 0.1, 0.9, 3000.0), 16)
    gx, gy = np.meshgrid((np.arange(1000) + 0.5) * 30.0, (np.arange(1000) + 0.5) * 30.0)
    started, cpu = time.perf_counter(), time.process_time()
    kriging.predict(gx.ravel(), gy.ravel())
    report({"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu})


def task_indices(landsat, output):
    """spectralindices' core on the full scene (all 15 factors)."""
    from core.science.indices import Scale
    from core.workflows.spectral_indices import run_spectral_indices
    run_spectral_indices(str(landsat), str(output), scale=Scale.LANDSAT_C2_L2)
    report({})


def task_topographic(landsat, dem, output):
    """topographiccorrection's core on the full scene (7 bands, C-correction, DEM on the grid)."""
    from core.workflows.topographic_correction import run_topographic_correction
    run_topographic_correction(str(landsat), str(dem), str(output), method="c", sun_azimuth=150.0,
                               sun_elevation=35.0)
    report({})


def task_floor_topographic(landsat, dem, output):
    """I/O floor of the topographic pass: read the 7 bands and the DEM block by block, write 7
    Float32 bands (each band times the DEM's relative value: no science)."""
    import numpy as np
    from osgeo import gdal
    from core.blocks import iter_blocks
    from core.raster_io import CREATION_OPTIONS
    src, elevation = gdal.Open(str(landsat)), gdal.Open(str(dem))
    dst = gdal.GetDriverByName("GTiff").Create(str(output), src.RasterXSize, src.RasterYSize, 7,
                                               gdal.GDT_Float32, CREATION_OPTIONS)
    dst.SetGeoTransform(src.GetGeoTransform())
    dst.SetProjection(src.GetProjection())
    dem_band = elevation.GetRasterBand(1)
    for window in iter_blocks(src.RasterXSize, src.RasterYSize):
        z = dem_band.ReadAsArray(window.xoff, window.yoff, window.xsize, window.ysize) / np.float32(1500.0)
        for number in range(1, 8):
            block = src.GetRasterBand(number).ReadAsArray(window.xoff, window.yoff, window.xsize, window.ysize)
            dst.GetRasterBand(number).WriteArray(block.astype(np.float32) * np.float32(0.0000275) * z,
                                                 window.xoff, window.yoff)
    dst = None
    report({})


def task_training():
    """Training and transfer timings from bench_training.py."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_training.py")],
                            capture_output=True, text=True, check=True)
    report(json.loads(result.stdout.strip().splitlines()[-1]))


class LoadWatch:
    """The highest 1-minute load average seen while the bench runs (sampled every 10 s): the bench
    itself keeps at most about two processes busy, so more means other work shared the machine."""

    def __init__(self, every=10.0):
        self.highest = os.getloadavg()[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every):
        while not self._stop.wait(every):
            self.highest = max(self.highest, os.getloadavg()[0])

    def sentence(self):
        """One line for BENCHMARKS.md on how busy the machine was."""
        self._stop.set()
        cores = os.cpu_count() or 1
        verdict = ("the machine was otherwise quiet" if self.highest <= cores + 0.5 else
                   "other work shared the machine: absolute times are inflated, the ratios (each pass "
                   "alternating with its floor) are the better figure; re-run on a quiet machine")
        return f"Highest 1-minute load average during the run: {self.highest:.1f} on {cores} cores ({verdict})."


def main():
    """Run every measurement and write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--work", default=str(ROOT / "bench" / "output"))
    parser.add_argument("--task")
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    if args.task:
        {"floor": task_floor, "predict": task_predict, "indices": task_indices,
         "topographic": task_topographic, "floor_topographic": task_floor_topographic,
         "training": task_training, "predict_rk": task_predict_rk,
         "kriging_kernel": task_kriging_kernel}[args.task](*args.args)
        return
    work = pathlib.Path(args.work)
    load = LoadWatch()
    print("Preparing full-scene inputs (once) ...", flush=True)
    factors, landsat, model = make_inputs(work)
    rows = []
    print("predictcontent vs I/O floor ...", flush=True)
    floor_p, pred = best_of(ROUNDS, ("floor", (factors, work / "floor_predict.tif", "1,2,3,4,5,6,7,8,9", 1)),
                            ("predict", (model, factors, work / "content.tif")))
    rows.append(("predictcontent, 7,801 x 7,681, 9 Float32 bands -> 1 band", pred, floor_p))
    print("spectralindices vs I/O floor ...", flush=True)
    floor_i, indices = best_of(ROUNDS, ("floor", (landsat, work / "floor_indices.tif", "2,3,4,5,6,7", 15,
                                          0.0000275, -0.2)),
                               ("indices", (landsat, work / "indices.tif")))
    rows.append(("spectralindices, 7,801 x 7,681, 7 UInt16 bands -> 15 bands", indices, floor_i))
    print("topographiccorrection vs I/O floor ...", flush=True)
    dem = make_dem(work)
    floor_t, topographic = best_of(ROUNDS, ("floor_topographic", (landsat, dem, work / "floor_topo.tif")),
                                   ("topographic", (landsat, dem, work / "topo.tif")))
    rows.append(("topographiccorrection, 7,801 x 7,681, 7 UInt16 bands + DEM -> 7 bands", topographic,
                 floor_t))
    print("predictcontent with RESIDUAL_KRIGING vs without ...", flush=True)
    model_rk = make_kriging_model(work, model)
    plain, kriged = best_of(ROUNDS, ("predict", (model_rk, factors, work / "content.tif")),
                            ("predict_rk", (model_rk, factors, work / "content_rk.tif")))
    _, kernel_peak, kernel = measure("kriging_kernel")
    print("training and transfer ...", flush=True)
    _, _, training = measure("training")
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, in one run, side by side.", "",
             load.sentence(), "",
             "## Raster passes against the I/O floor", "",
             "The floor is a plain GDAL pass over the same blocks: it reads the same bands and writes the "
             "same number of Float32 bands with the same creation options (tiled, band-interleaved, "
             "DEFLATE), holding the mean of the bands read (for the Landsat integers converted to "
             "reflectance, so the floor writes values of the same scale as the indices), doing no "
             "science. Goal: at most 1.5 x the floor, peak memory under 1 GB. Each pass and its floor "
             f"run alternately, {ROUNDS} times; the table keeps the fastest run of each.", "",
             "| pass | wall time (s) | floor (s) | ratio | peak memory (MiB) | floor peak (MiB) |",
             "|---|---|---|---|---|---|"]
    for label, (seconds, peak, _), (floor_seconds, floor_peak, _) in rows:
        lines.append(f"| {label} | {seconds:.1f} | {floor_seconds:.1f} | {seconds / floor_seconds:.2f} | "
                     f"{peak:.0f} | {floor_peak:.0f} |")
    lines += ["", "## Residual kriging", "",
              f"predictcontent on the same scene and model with {KRIGING_SAMPLES:,} samples whose "
              "cross-validated residuals hold a spatial field, RESIDUAL_KRIGING on (16 neighbours), "
              "against the same run without it. Goal: at most 2 x, peak memory under 1 GB.", "",
              "| pass | wall time (s) | without kriging (s) | ratio | peak memory (MiB) |",
              "|---|---|---|---|---|",
              f"| predictcontent + RESIDUAL_KRIGING, 7,801 x 7,681 | {kriged[0]:.1f} | {plain[0]:.1f} | "
              f"{kriged[0] / plain[0]:.2f} | {kriged[1]:.0f} |",
              f"| kriging kernel alone, 1,000,000 pixels, every pixel exact | {kernel['seconds']:.1f} "
              f"(CPU {kernel['cpu_seconds']:.1f}) | | | {kernel_peak:.0f} |"]
    lines += ["", "## Training and transfer", "", "| figure | seconds |", "|---|---|"]
    training.pop("peak_mib", None)
    for key, value in training.items():
        lines.append(f"| {key} | {value:.4f} |" if isinstance(value, (int, float)) else f"| {key} | {value} |")
    pathlib.Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
