"""Memory maps and the dump-level control, over one real kdump cycle (128 MiB, -E -d 0: every page kept)."""
from __future__ import annotations

import numpy as np
import pytest

from kpanic_lab.formats import open_dump
from kpanic_lab.kdump.makedumpfile import exclude_pages
from kpanic_lab.kdump.run import KdumpRun
from kpanic_lab.machine import Machine
from kpanic_lab.viz.memory_map import MemoryMapView, crashed, memory_layout, parse_e820_lines
from kpanic_lab.viz.pagekinds import PAGE_KINDS, PageKindView, classify

IOMEM = """00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-07fdffff : System RAM
  01000000-0101afff : Kernel code
  03000000-06ffffff : Crash kernel
07fe0000-07ffffff : Reserved
"""


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    run = KdumpRun("sysrq-c", memory="128M", crash_dir=tmp_path_factory.mktemp("crash"),
                   kdump_conf="core_collector makedumpfile -E -d 0\n")
    run.load()
    view = MemoryMapView(run)
    result = run.run()
    assert result.outcome is not None and result.outcome.vmcore is not None
    return run, view, result


@pytest.fixture(scope="module")
def pages(cycle):
    return PageKindView(cycle[2], level=31, compression="zstd")


@pytest.mark.slow
def test_map_before_the_crash_has_the_plan(cycle):
    run, view, result = cycle
    layout = view.layout_data
    plan = run.kexec_plan
    assert view.error == "" and view.has_plan
    assert layout.crash == (plan.crash[0], plan.crash[1] + 1)
    assert [s.start for s in layout.segments] == [s.mem for s in plan.segments]
    assert any(s.kind == "elfcorehdr" and s.start == plan.elfcorehdr for s in layout.segments)
    assert {r.kind for r in layout.first} >= {"ram", "reserved", "Kernel code", "crash", "notes"}
    assert view.image.value[:4] == b"\x89PNG"


@pytest.mark.slow
def test_capture_kernel_map_after_the_run(cycle):
    run, view, result = cycle
    view.update(result)
    assert view.error == "" and view.capture_booted
    usable = [r for r in view.layout_data.capture if r.kind == "ram"]
    crash = view.layout_data.crash
    inside = [r for r in usable if crash[0] <= r.start and r.end <= crash[1]]    # its RAM is the reservation,
    hdr = run.kexec_plan.elfcorehdr                                              # but the ELF core header's
    assert sum(r.end - r.start for r in inside) >= (crash[1] - crash[0]) - (64 << 10)    # pages (delete_memmap)
    assert not any(r.start <= hdr < r.end for r in usable)
    assert sum(r.end - r.start for r in usable) < 70 << 20
    assert any(r.kind == "oldmem" for r in view.layout_data.capture)
    assert "elfcorehdr=" in view.layout_data.capture_cmdline


def test_layout_pure():
    lay = memory_layout(IOMEM, None, "BIOS-e820: [mem 0x0000000003000000-0x0000000006ffffff] usable\n")
    assert lay.crash == (0x3000000, 0x7000000) and lay.capture_booted
    old = [(r.start, r.end) for r in lay.capture if r.kind == "oldmem"]
    assert (0x100000, 0x3000000) in old and (0x7000000, 0x7fe0000) in old
    assert parse_e820_lines("x BIOS-e820: [mem 0x0-0xfff] reserved") == [(0, 0x1000, "reserved")]
    assert crashed("# echo c\nKernel panic - not syncing: x") and not crashed("boot\n# ")


@pytest.mark.slow
def test_dump_level_changes_the_vmcore_size(pages):
    assert pages.error == ""
    pages.set_level(31)
    at31 = pages.vmcore_bytes
    pages.set_level(0)
    at0 = pages.vmcore_bytes
    assert pages.excluded_pages == 0 and at0 > 2 * at31 > 0
    pages.slider.value = 16                      # the control itself
    assert pages.dump_level == 16 and [b.value for b in pages.boxes] == [False, False, False, False, True]
    assert at31 < pages.vmcore_bytes < at0
    pages.boxes[0].value = True
    assert pages.dump_level == 17 and pages.slider.value == 17


@pytest.mark.slow
def test_counts_are_the_librarys(pages, cycle):
    pages.set_level(30)
    dump = pages.dump
    exc = exclude_pages(dump, 30, dump.source.ram_bitmap())
    assert {k: v for k, v in pages.counts.items() if k != "zero"} == {k: v for k, v in exc.counts.items() if k != "zero"}
    assert pages.counts["zero"] == 0
    pages.set_level(31)
    assert pages.counts["zero"] > 0 and pages.counts["free"] == exc.counts["free"]
    # a page only partly in RAM (0x9f000, RAM to 0x9fc00) is in no dump: makedumpfile's exclude_nodata_pages
    assert pages.kept_pages + pages.excluded_pages == int((dump.source.ram_bitmap() & dump.source.saved_bitmap()).sum())


@pytest.mark.slow
def test_compression_shrinks(pages):
    pages.set_level(1)
    pages.set_compression("")
    plain = pages.vmcore_bytes
    pages.codec.value = "zstd"
    assert pages.compression == "zstd" and pages.vmcore_bytes < plain
    assert pages.progress.finished and "Copying data" in pages.progress.steps


@pytest.mark.slow
def test_kinds_cover_ram(pages):
    c = pages.classified
    assert not (c.kind[c.ram] == PAGE_KINDS.index("hole")).any()
    kinds = {PAGE_KINDS[i] for i in np.unique(c.kind)}
    assert {"kernel", "free", "user", "cache", "zero"} <= kinds


# ---------------------------------------------------------------------------- wrong state
def test_a_run_that_was_not_loaded():
    view = MemoryMapView(KdumpRun("sysrq-c"))
    assert "has not booted" in view.error and "kpanic-error" in view._error_box.value


@pytest.mark.slow
def test_no_crashkernel_says_so():
    m = Machine(cpus=1, memory="64M")
    m.boot()
    view = MemoryMapView(m)
    assert view.error == "" and not view.has_plan
    assert "no crashkernel= reservation" in view.table.value


@pytest.mark.slow
def test_a_crashed_machine_is_not_asked_for_iomem(cycle):
    from kpanic_lab.panic import PanicSession
    s = PanicSession("sysrq-c", cpus=1, memory="64M").start()
    s.run_to_end()
    view = MemoryMapView(s.machine)
    assert "has crashed" in view.error


@pytest.mark.slow
def test_filtered_dump_cannot_make_lower_levels(tmp_path, pages):
    from kpanic_lab.kdump.makedumpfile import makedumpfile
    out = tmp_path / "d31"
    with open(out, "wb") as f:
        makedumpfile(pages.dump, f, 31, "zlib")
    v = PageKindView(open_dump(out), level=31, compression="")
    assert v.error == "" and v.vmcore_bytes > 0
    v.set_level(1)
    assert v.vmcore_bytes == 0 and "saved at -d 31" in v.progress.error
    assert (v.classified.kind == PAGE_KINDS.index("free")).any()        # struct page still tells what they were


def test_a_run_without_capture_and_wrong_objects():
    assert "not int" in PageKindView(3).error
    assert "cannot open" in PageKindView("/nonexistent/vmcore").error


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["", "zstd"])
def test_level_sizes_are_what_makedumpfile_writes(pages, codec):
    """The arithmetic (classified once, calibrated once per codec) against a real makedumpfile run."""
    import io

    from kpanic_lab.kdump.makedumpfile import makedumpfile

    pages.set_compression(codec)
    for level in (0, 1, 2, 6, 8, 16, 17, 31):
        pages.set_level(level)
        out = io.BytesIO()
        makedumpfile(pages.dump, out, level, codec or None)
        assert pages.vmcore_bytes == len(out.getvalue()), (codec, level)
        why, counts = pages.model.why(level)
        assert {k: v for k, v in counts.items() if v} == {k: v for k, v in
                                                          _library_counts(pages, level).items() if v}


def _library_counts(pages, level):
    from kpanic_lab.viz.pagekinds import level_exclusion

    return level_exclusion(pages.dump, pages.classified, level)[1]


@pytest.mark.slow
def test_a_level_change_runs_no_makedumpfile(pages, monkeypatch):
    import kpanic_lab.viz.pagekinds as mod

    pages.set_compression("zstd")
    pages.set_level(31)                      # calibrated (once per codec)
    monkeypatch.setattr(mod, "makedumpfile", lambda *a, **k: pytest.fail("a level change ran makedumpfile"))
    before = pages.updates
    for level in (0, 5, 31, 16, 30):
        pages.set_level(level)
        assert pages.dump_level == level and pages.vmcore_bytes > 0 and pages.error == ""
    assert pages.updates == before + 5
    assert pages.image.value[:4] == b"\x89PNG" and pages.kinds_image.value[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_burst_of_control_changes_is_one_update_for_the_last(pages):
    import asyncio

    pages.set_level(31)
    before = pages.updates

    async def keys():
        for level in (30, 29, 28, 27, 26, 25):           # six arrow-key presses in a row
            pages.slider.value = level
            await asyncio.sleep(0)
        assert pages.dump_level == 31                     # nothing drawn yet: still debouncing
        await asyncio.sleep(0.3)

    asyncio.run(keys())
    assert pages.updates == before + 1 and pages.dump_level == 25 and pages.slider.value == 25
    assert [b.value for b in pages.boxes] == [True, False, False, True, True]


def test_broken_axis_pure():
    from kpanic_lab.viz.memory_map import MAX_FRACTION, MIN_FRACTION, broken_scale

    MiB = 1 << 20
    f, cut = broken_scale([0, 4096, 16 * MiB, 18 * MiB, 256 * MiB], 0, 256 * MiB)
    heights = [f(b) - f(a) for a, b in ((0, 4096), (4096, 16 * MiB), (16 * MiB, 18 * MiB), (18 * MiB, 256 * MiB))]
    assert abs(sum(heights) - 1) < 1e-9 and all(h > 0 for h in heights)
    assert heights[0] >= MIN_FRACTION * 0.9            # a page stays visible beside 256 MiB
    assert heights[3] < 238 / 256                       # the long run of RAM is shortened ...
    assert cut == [(18 * MiB, 256 * MiB)]              # ... and marked
    assert f(17 * MiB) == (f(16 * MiB) + f(18 * MiB)) / 2     # linear inside a stretch
    assert MIN_FRACTION < MAX_FRACTION


@pytest.mark.slow
def test_no_label_on_the_maps_overlaps_another(cycle):
    """Every label and tick of the three columns, measured as drawn: no two text boxes meet."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    run, view, result = cycle
    view.update(result)
    fig = view.figure
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        texts = [t for t in ax.texts if t.get_text().strip()] + [t for t in ax.get_yticklabels() if t.get_text()]
        boxes = [Text.get_window_extent(t, renderer) for t in texts]
        assert len(texts) > 3, ax.get_title()
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                assert not a.overlaps(boxes[j]), (ax.get_title(), texts[i].get_text(), texts[j].get_text())
    assert any("≈" == t.get_text() for t in fig.axes[0].texts)      # the first kernel's RAM is shortened
