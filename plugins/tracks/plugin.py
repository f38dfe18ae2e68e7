"""What the tracks plugin contributes to sciarch: detectors for particle tracks in bubble-chamber
pictures, the simulator and COCO reader as a data set, the track-finding task, recipes, and the
``sciarch tracks`` commands. Light on purpose: specs name code, nothing heavy is imported here."""

import sciarch

sciarch_extra = "physics"  # the host checks it at every load
sciarch.require_extra(sciarch_extra)

from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl  # noqa: E402

PACKAGE = "sciarch_tracks"


@hookimpl
def sciarch_models():
    return [
        ModelSpec(name="arc-net", builder=f"{PACKAGE}.arc_net:arc_net", task="track finding",
                  summary="hybrid two-stage: Hough arcs as proposals, then a network over each arc's band of hits "
                          "(membership per hit, track score, direction); iterated; charge and p_T from the refit curve",
                  paper="Duda & Hart, CACM 1972 (Hough arcs); Qi et al., PointNet, CVPR 2017 (the second stage)"),
        ModelSpec(name="gnn", builder=f"{PACKAGE}.gnn:hit_graph_gnn", task="track finding",
                  summary="the tracking physicist's baseline: a radius graph over the hits, an Interaction Network "
                          "classifying its edges (same particle, adjacent), tracks as connected components",
                  paper="Battaglia et al., Interaction Networks, NeurIPS 2016; Ju et al. (Exa.TrkX), EPJC 2021"),
        ModelSpec(name="hit-rcnn", builder=f"{PACKAGE}.hit_rcnn:hit_rcnn", task="track finding",
                  summary="two-stage: RPN proposals, then each track's hits (a membership head over the hits in "
                          "and near the box); charge and p_T from the fitted curve",
                  paper="Ren et al., Faster R-CNN, NeurIPS 2015; He et al., Mask R-CNN, ICCV 2017 (mask over hits)"),
        ModelSpec(name="faster-rcnn", builder=f"{PACKAGE}.faster_rcnn:faster_rcnn", task="track detection",
                  summary="Faster R-CNN (ResNet/MobileNetV3-FPN) with thin-track anchors, hard or Soft-NMS",
                  paper="Ren et al., Faster R-CNN, NeurIPS 2015; Lin et al., FPN, CVPR 2017"),
        ModelSpec(name="mask-rcnn", builder=f"{PACKAGE}.mask_rcnn:mask_rcnn", task="track instance segmentation",
                  summary="Mask R-CNN (ResNet/MobileNetV3-FPN): boxes and a mask of each track's pixels",
                  paper="He et al., Mask R-CNN, ICCV 2017"),
        ModelSpec(name="retinanet", builder=f"{PACKAGE}.retinanet:retinanet", task="track detection",
                  summary="RetinaNet, the one-stage baseline, on the same FPN backbones and anchors",
                  paper="Lin et al., Focal Loss for Dense Object Detection, ICCV 2017"),
    ]


@hookimpl
def sciarch_datasets():
    return [
        DatasetSpec(name="bubble-chamber", builder=f"{PACKAGE}.data:BubbleChamberPictures", embedded=True,
                    formats=("COCO JSON + PNG/JPEG pictures (boxes; masks as RLE or polygons; keypoints)",),
                    source="embedded: simulated (helices in a field, Bethe-Bloch, Highland, decays, V0s); "
                           "or root: a COCO folder of your own pictures",
                    license="simulated data: CC0", citation="",
                    summary="bubble-chamber pictures: simulated with full truth, or read from COCO folders"),
    ]


@hookimpl
def sciarch_tasks():
    return [
        TaskSpec(name="track-finding", builder=f"{PACKAGE}.task:TrackDetection",
                 predictor=f"{PACKAGE}.detect:predict",
                 metrics=("efficiency", "fake_rate", "momentum_resolution", "box_ap", "mask_ap", "charge_accuracy"),
                 summary="detector losses; scored by TrackML efficiency/fake rate, p_T resolution and COCO AP"),
    ]


def _recipe(name: str, summary: str, expected: tuple = ()) -> RecipeSpec:
    return RecipeSpec(name=name, resource=f"{PACKAGE}:recipes/{name}.yaml", trains_on="tracks/bubble-chamber",
                      summary=summary, expected=expected)


@hookimpl
def sciarch_recipes():
    return [
        _recipe("arc-net", "Arc Net: Hough arcs as proposals, a learned second stage over their hits, trained on "
                "pictures simulated on the fly with randomised physics (one CPU thread, about 6 CPU-min)",
                expected=(("efficiency / fake rate at 20 primary tracks", "0.59 / 0.41 (Hough 0.51 / 0.64; ahead of it "
                           "at every multiplicity 5-100)", "benchmarks/results/tracks_crowding.md"),)),
        _recipe("arc-net-long", "Arc Net trained twice as long (400 pictures, about 12 CPU-min on one thread)",
                expected=(("efficiency / fake rate at 20 primary tracks", "0.54 / 0.31 (Hough 0.51 / 0.64)",
                           "benchmarks/results/tracks_crowding.md"),)),
        _recipe("gnn", "the hit-graph GNN baseline (Exa.TrkX style: Interaction Network edge classifier, "
                "connected components), trained on pictures simulated on the fly with randomised physics (one CPU "
                "thread, about 12 CPU-min)",
                expected=(("efficiency / fake rate at 20 primary tracks", "0.53 / 0.59 (Hough 0.51 / 0.64; Arc Net "
                           "0.59 / 0.41: the baseline does not beat it)", "benchmarks/results/tracks_crowding.md"),)),
        _recipe("hit-rcnn", "Hit R-CNN: the track detector, trained on pictures simulated on the fly with randomised "
                "physics (one CPU thread, about 12 CPU-min)",
                expected=(("test/efficiency", "0.019, fake rate 0.51 (800 steps, 12 CPU-min from scratch: far below "
                           "the Hough transform's 0.5)", "benchmarks/results/tracks_hit_rcnn_default.md"),)),
        _recipe("mask-rcnn", "Mask R-CNN (ResNet-18-FPN) on simulated 256-pixel pictures, CPU-sized",
                expected=(("test/efficiency", "0.05–0.13 (192 steps from scratch on CPU; two machines)",
                           "benchmarks/results/tracks_mask_rcnn_default.md, docs/tracks.md"),)),
        _recipe("faster-rcnn", "Faster R-CNN (ResNet-18-FPN) on simulated 256-pixel pictures, CPU-sized"),
        _recipe("retinanet", "RetinaNet (ResNet-18-FPN), the one-stage baseline, on the same pictures"),
        _recipe("crowding", "the crowding experiment's two-stage detector (Faster R-CNN) on 5–100 tracks per picture",
                expected=(("efficiency at 20–40 tracks", "0.18 (900 steps; 0.29 after 3600)",
                           "benchmarks/results/tracks_accuracy_two-stage*.md"),)),
        _recipe("crowding-one-stage", "the crowding experiment's one-stage detector (RetinaNet) on the same pictures"),
        _recipe("crowding-masks", "the crowding experiment's two-stage detector with masks (Mask R-CNN)"),
    ]


@hookimpl
def sciarch_add_commands(cli):
    from .commands import tracks

    cli.add_command(tracks)
