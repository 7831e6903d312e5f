"""Reads a run folder's TensorBoard event files with TensorBoard's own loader and prints what it finds (scalar tags
with their step ranges, images), so the files `dancegrpo train` writes are proven readable by `tensorboard --logdir`.

    scripts/tools-env.sh python3 tools/checks/tensorboard_reads_run.py runs/shapes-grpo
"""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(run: str) -> int:
    accumulator = EventAccumulator(run, size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    if not tags["scalars"]:
        print(f"{run}: no scalars found")
        return 1
    for tag in sorted(tags["scalars"]):
        events = accumulator.Scalars(tag)
        print(f"{tag}: {len(events)} points, steps {events[0].step}..{events[-1].step}, last {events[-1].value:.6g}")
    for tag in sorted(tags["images"]):
        images = accumulator.Images(tag)
        print(f"{tag}: {len(images)} images, steps {[i.step for i in images]}, {images[-1].width}x{images[-1].height}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
