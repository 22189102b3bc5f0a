"""report.html, opened from disk in a real headless Chromium: every row and plot is there, the table sorts,
and the page logs no error. Skips, saying why, where Chromium, its driver or Selenium is missing."""

from __future__ import annotations

import json
import shutil

import pytest

from fer_zoo.benchmark.bench import BUDGETS

DATA = "synthetic:size=140,seed=3,preset=easy"


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    """A real bench output: one trained row (tiny data, one epoch) plus rows that failed, and results.json."""
    import fer_zoo
    from fer_zoo import plugins
    from fer_zoo.benchmark import html as html_report
    from fer_zoo.benchmark.bench import BenchConfig, write_results
    from fer_zoo.environment import describe
    from fer_zoo.training.train import TrainOptions, train

    out = tmp_path_factory.mktemp("bench")
    plugins.reset()
    trained = train("lenet", DATA, out / "lenet" / "seed0", TrainOptions(epochs=2, batch_size=32, subset=140,
                                                                         eval_subset=150))
    m = trained.metrics
    rows = [
        {"model": "lenet", "architecture": "lenet", "kind": "train", "plugin": "fer-zoo", "param_count": 168_971,
         "macs": fer_zoo.get_architecture("lenet").macs, "val_acc": m["val_accuracy"], "test_acc": m["test_accuracy"],
         "epochs": m["epochs"], "infer_samples_per_sec": 5000.0, "train_samples_per_sec": 900.0, "seeds": 1,
         "status": m["status"], "error": m.get("reason") or None},
        {"model": "vgg16_48", "architecture": "vgg16_48", "kind": "train", "plugin": "fer-zoo", "status": "too slow",
         "error": "one training step of 256 images needs ~62 s here", "seeds": 1},
        {"model": "broken", "architecture": "broken", "kind": "train", "plugin": "acme", "status": "out of memory",
         "error": "RESOURCE_EXHAUSTED (also at half the batch, 17)", "seeds": 1},
    ]
    config = BenchConfig(data=DATA, budget="smoke", seeds=1, epochs=2, batch_size=32, precision="float32")
    environment = {**describe(), "cpu": "test cpu", "precision": "float32", "data": DATA, "dataset": "tiny faces",
                   "budget": {"name": "smoke", "description": BUDGETS["smoke"].description, "subset": 140,
                              "eval_subset": 150}, "data_fingerprint": "x", "seeds": 1, "date": "2026-11-28"}
    (out / "bench.json").write_text(json.dumps(config.comparable()))
    write_results({"rows": rows, "runs": {}, "environment": environment}, out)
    html_report.write(out)
    return out


def chromium():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    browser, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no Chromium here: install Debian's chromium and chromium-driver (.ci/run does)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_report_renders_in_a_real_browser(bench_dir, tmp_path):
    from selenium.webdriver.common.by import By

    page = bench_dir / "report.html"
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched
    browser = chromium()
    try:
        browser.get(page.as_uri())
        table = browser.find_element(By.ID, "comparison")
        names = [row.find_elements(By.TAG_NAME, "td")[0].text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert sorted(names) == ["broken", "lenet", "vgg16_48"]
        images = browser.find_elements(By.TAG_NAME, "img")
        assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
        alts = {img.get_attribute("alt") for img in images}
        assert {"test accuracy against parameters", "test accuracy against inference speed", "lenet"} <= alts
        assert any("learning curves" in a or "own scale" in a for a in alts)
        faces = browser.find_elements(By.CSS_SELECTOR, "#faces tr")
        assert len(faces) == 13  # a heading and twelve test faces, each with lenet's answer
        reasons = browser.find_element(By.ID, "reasons").text
        assert "too slow" in reasons and "RESOURCE_EXHAUSTED" in reasons
        # a click on a heading sorts the table by that column
        status_heading = table.find_elements(By.TAG_NAME, "th")[-1]
        status_heading.click()
        first = [r.find_elements(By.TAG_NAME, "td")[-1].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        status_heading.click()
        again = [r.find_elements(By.TAG_NAME, "td")[-1].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert first == sorted(first) and again == sorted(first, reverse=True)
        problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert problems == []
        browser.save_screenshot(str(tmp_path / "report.png"))
        assert (tmp_path / "report.png").stat().st_size > 10_000
    finally:
        browser.quit()


def test_report_command_rebuilds_it_and_refuses_what_is_not_a_bench(cli, bench_dir, tmp_path):
    (bench_dir / "report.html").unlink()
    result = cli("report", str(bench_dir))
    assert result.exit_code == 0 and (bench_dir / "report.html").is_file()
    bad = cli("report", str(tmp_path))
    assert bad.exit_code == 2 and "not a bench directory (no results.json)" in bad.stderr


def test_report_imports_no_framework(bench_dir, tmp_path):
    """Rebuilding the page reads files and draws plots: no Keras, so no TensorFlow start-up lines on the
    terminal and no ~5 s import (a fresh interpreter: this test process has Keras already)."""
    import subprocess
    import sys

    copy = tmp_path / "bench"
    shutil.copytree(bench_dir, copy)
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom fer_zoo.cli import app\n"
             "result = CliRunner().invoke(app, ['report', sys.argv[1]])\nassert result.exit_code == 0, result.output\n"
             "print(' '.join(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules) or 'none')")
    done = subprocess.run([sys.executable, "-c", probe, str(copy)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (done.stdout.strip(), done.stderr) == ("none", "")
    assert (copy / "report.html").read_text() == (bench_dir / "report.html").read_text()
