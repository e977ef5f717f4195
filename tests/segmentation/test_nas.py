import itertools

import pytest
import torch
from torch import nn

from captum_nas.datasets import seam_composites
from captum_nas.images import sample_image
from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER as NORM
from captum_nas.segmentation import NASResult, NASSegmenter, batched_kmeans, is_contiguous
from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS
from tests.conftest import hook_count

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry"]


# -- contract -------------------------------------------------------------------------
def test_contract_shape_dtype_contiguous(tiny_cnn: nn.Module) -> None:
    x = torch.randn(3, 3, 64, 48)
    seg = NASSegmenter(tiny_cnn, n_segments=5)(x)
    assert seg.shape == (3, 1, 64, 48) and seg.dtype == torch.long
    assert seg.is_contiguous() and is_contiguous(seg)
    assert int(seg.max()) <= 4


def test_result_exposes_embedding_and_centroids(tiny_cnn: nn.Module) -> None:
    nas = NASSegmenter(tiny_cnn, n_segments=4, pca_dims=None, spatial_weight=0.0, color_weight=0.0)
    res = nas.segment(torch.randn(2, 3, 32, 32))
    assert isinstance(res, NASResult)
    assert res.layers == ["stem", "layer1", "layer2"]
    # grid: finest activation (stem, 16x16); channels 8 + 16 + 32
    assert res.embedding.shape == (2, 56, 16, 16)
    assert res.centroids.shape == (2, 4, 56)
    assert res.grid_labels.shape == (2, 16, 16)
    emb = nas.embed(torch.randn(2, 3, 32, 32))
    assert emb.shape == (2, 56, 16, 16)
    # each depth is a unit vector per pixel scaled by sqrt(weight): total norm 1
    norms = res.embedding.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=0.2)


def test_spatial_term_and_pca_sizes(tiny_cnn: nn.Module) -> None:
    res = NASSegmenter(
        tiny_cnn, n_segments=4, pca_dims=4, spatial_weight=1.0, color_weight=0.0
    ).segment(torch.randn(1, 3, 32, 32))
    assert res.embedding.shape[1] == 4 * 3 + 2
    coords = res.embedding[0, -2:]
    assert torch.allclose(coords[0, :, 0], (torch.arange(16) + 0.5) / 16)
    assert torch.allclose(coords[1, 0, :], (torch.arange(16) + 0.5) / 16)


def test_labels_are_nearest_centroid(tiny_cnn: nn.Module) -> None:
    res = NASSegmenter(tiny_cnn, n_segments=6).segment(torch.randn(2, 3, 32, 32))
    pts = res.embedding.flatten(2).transpose(1, 2)
    nearest = torch.cdist(pts, res.centroids).argmin(-1)
    # the grid labels are the k-means assignment, relabelled in order of first use
    for i in range(2):
        a, b = nearest[i], res.grid_labels[i].flatten()
        assert torch.equal(a[:, None] == a[None, :], b[:, None] == b[None, :])


def test_determinism_and_seed(tiny_cnn: nn.Module) -> None:
    x = torch.randn(2, 3, 32, 32)
    a = NASSegmenter(tiny_cnn, n_segments=6, seed=1)(x)
    b = NASSegmenter(tiny_cnn, n_segments=6, seed=1)(x)
    assert torch.equal(a, b)
    # the seed is used: another seed gives another k-means initialisation
    c = NASSegmenter(tiny_cnn, n_segments=6, seed=2)(x)
    assert not torch.equal(a, c)


def test_batch_equals_one_by_one(lite0: nn.Module) -> None:
    x = NORM(torch.stack([sample_image(n) for n in PHOTOS[:3]]))
    nas = NASSegmenter(lite0, n_segments=16)
    batch = nas(x)
    single = torch.cat([nas(x[i : i + 1]) for i in range(3)])
    assert torch.equal(batch, single)


def test_chunked_forward_equals_full(tiny_cnn: nn.Module) -> None:
    x = torch.randn(5, 3, 32, 32)
    full = NASSegmenter(tiny_cnn, n_segments=4)(x)
    chunked = NASSegmenter(tiny_cnn, n_segments=4, batch_size=2)(x)
    assert torch.equal(full, chunked)


def test_explicit_layers_by_name_and_module(tiny_cnn: nn.Module) -> None:
    x = torch.randn(1, 3, 32, 32)
    a = NASSegmenter(tiny_cnn, layers=["layer1", "layer2"], n_segments=3).segment(x)
    b = NASSegmenter(tiny_cnn, layers=[tiny_cnn.layer1, tiny_cnn.layer2], n_segments=3).segment(x)
    assert a.layers == ["layer1", "layer2"] and torch.equal(a.segments, b.segments)
    assert a.embedding.shape[-2:] == (8, 8)


def test_connectivity_gives_connected_segments(tiny_cnn: nn.Module) -> None:
    from captum_nas.segmentation import connected_components

    res = NASSegmenter(tiny_cnn, n_segments=6, connectivity=True, min_size=0.02).segment(
        torch.randn(2, 3, 32, 32)
    )
    cc = connected_components(res.grid_labels)
    assert torch.equal(cc.amax((1, 2)), res.grid_labels.amax((1, 2)))
    sizes = torch.stack([torch.bincount(g.flatten()).min() for g in res.grid_labels])
    assert torch.all(sizes >= 0.02 * 256)


# -- model state ----------------------------------------------------------------------
def test_model_state_restored(tiny_cnn: nn.Module) -> None:
    tiny_cnn.train()
    tiny_cnn.layer1[0].weight.requires_grad_(False)
    flags = [p.requires_grad for p in tiny_cnn.parameters()]
    before = {k: v.clone() for k, v in tiny_cnn.state_dict().items()}
    NASSegmenter(tiny_cnn, n_segments=3)(torch.randn(2, 3, 32, 32))
    assert tiny_cnn.training and all(m.training for m in tiny_cnn.modules())
    assert [p.requires_grad for p in tiny_cnn.parameters()] == flags
    assert hook_count(tiny_cnn) == 0
    # eval-mode forward: BatchNorm running statistics untouched
    for k, v in tiny_cnn.state_dict().items():
        assert torch.equal(v, before[k]), k


class _Boom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, 2, 1)
        self.conv2 = nn.Conv2d(4, 4, 3, 2, 1)
        self.fail = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv(x))
        if self.fail:
            raise RuntimeError("boom")
        return y.mean((2, 3))


def test_hooks_removed_after_exception() -> None:
    model = _Boom().train()
    nas = NASSegmenter(model, n_segments=2)
    nas(torch.randn(1, 3, 16, 16))  # auto layers probed and cached
    model.fail = True
    with pytest.raises(RuntimeError, match="boom"):
        nas(torch.randn(1, 3, 16, 16))
    assert hook_count(model) == 0 and model.training


# -- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(3, 32, 32), ValueError, r"\(N, C, H, W\)"),
        (torch.full((1, 3, 32, 32), float("nan")), ValueError, "NaN"),
        (torch.zeros(0, 3, 32, 32), ValueError, "empty"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.long), TypeError, "floating"),
    ],
)
def test_bad_inputs(tiny_cnn: nn.Module, x: torch.Tensor, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        NASSegmenter(tiny_cnn, n_segments=2)(x)


def test_bad_options(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="n_segments"):
        NASSegmenter(tiny_cnn, n_segments=0)
    with pytest.raises(ValueError, match="normalize"):
        NASSegmenter(tiny_cnn, normalize="max")
    with pytest.raises(ValueError, match="upsample"):
        NASSegmenter(tiny_cnn, upsample="cubic")
    with pytest.raises(ValueError, match="spatial_weight"):
        NASSegmenter(tiny_cnn, spatial_weight=-1)
    with pytest.raises(ValueError, match="layer_weights"):
        NASSegmenter(tiny_cnn, layers=["layer1"], layer_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="layer_weights"):
        NASSegmenter(tiny_cnn, layer_weights="deep")
    with pytest.raises(ValueError, match=r"no layer named 'layer9'.*layer1"):
        NASSegmenter(tiny_cnn, layers=["layer9"])
    with pytest.raises(TypeError, match="model"):
        NASSegmenter(lambda x: x)  # type: ignore[arg-type]


def test_too_many_segments_for_grid(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"larger than the working grid 16x16"):
        NASSegmenter(tiny_cnn, n_segments=257)(torch.randn(1, 3, 32, 32))


def test_model_without_spatial_activations() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with pytest.raises(ValueError, match="no spatial activations"):
        NASSegmenter(mlp, n_segments=2)(torch.randn(1, 3, 8, 8))


def test_layer_with_non_spatial_output(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match=r"'fc' outputs shape"):
        NASSegmenter(tiny_cnn, layers=["fc"], n_segments=2)(torch.randn(1, 3, 32, 32))


# -- quality with the real pretrained model -------------------------------------------
def _seam_accuracy(seg: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    same = (seg == truth).float().mean((-2, -1))
    return torch.maximum(same, 1 - same)


@pytest.mark.slow
def test_two_photos_split_along_the_seam(lite0: nn.Module) -> None:
    """Left/right and top/bottom halves of two different photos, K=2.

    Measured with the first release's options (``LEGACY_NAS_OPTIONS``, geometric depth
    weights) on all 40 ordered pairs of five scikit-image photos: 38 reach >= 0.9 of
    pixels on the right side of the seam, median 0.975.
    """
    pairs = list(itertools.permutations(PHOTOS, 2))
    images, truths = seam_composites(PHOTOS)
    seg = NASSegmenter(lite0, n_segments=2, **LEGACY_NAS_OPTIONS)(NORM(images))[:, 0]
    acc = _seam_accuracy(seg, truths)
    assert float((acc >= 0.9).float().mean()) >= 0.9
    assert float(acc.median()) >= 0.95
    # the cat / coffee / tissue pairs are clear-cut both ways
    clear = [i for i, p in enumerate(pairs + pairs) if "rocket" not in p and "astronaut" not in p]
    assert float(acc[clear].min()) >= 0.9
    # the defaults (equal depth weights, colour, refinement) follow textures more:
    # measured mean 0.833 (benchmarks/scoreboard_nas.py)
    default = NASSegmenter(lite0, n_segments=2)(NORM(images))[:, 0]
    assert float(_seam_accuracy(default, truths).mean()) >= 0.75


def test_four_photo_mosaic_gives_four_regions(lite0: nn.Module) -> None:
    names = ("chelsea", "coffee", "astronaut", "immunohistochemistry")
    imgs = [sample_image(n) for n in names]
    mosaic = imgs[0].clone()
    mosaic[:, :112, 112:] = imgs[1][:, :112, 112:]
    mosaic[:, 112:, :112] = imgs[2][:, 112:, :112]
    mosaic[:, 112:, 112:] = imgs[3][:, 112:, 112:]
    seg = NASSegmenter(lite0, n_segments=4, **LEGACY_NAS_OPTIONS)(NORM(mosaic[None]))[0, 0]
    quadrant = torch.zeros(224, 224, dtype=torch.long)
    quadrant[:112, 112:] = 1
    quadrant[112:, :112] = 2
    quadrant[112:, 112:] = 3
    majority = [int(torch.bincount(seg[quadrant == q], minlength=4).argmax()) for q in range(4)]
    assert sorted(majority) == [0, 1, 2, 3]  # one segment per photo
    purity = sum(int(torch.bincount(seg[quadrant == q]).max()) for q in range(4)) / 224**2
    assert purity >= 0.9


# -- hierarchical mode ------------------------------------------------------------------
def test_hierarchical_refines_the_deepest_clusters(tiny_cnn: nn.Module) -> None:
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    nas = NASSegmenter(
        tiny_cnn,
        n_segments=8,
        mode="hierarchical",
        spatial_weight=0.0,
        pca_dims=None,
        upsample="nearest",
    )
    hier = nas.segment(x)
    assert hier.segments.shape == (3, 1, 64, 64) and is_contiguous(hier.segments)
    assert int(hier.segments.max()) <= 7
    # three depths, K=8: 2, 4 then 8 clusters, each level nested in the one before
    assert [len(lv[0].unique()) for lv in hier.levels] == [2, 4, 8]
    for coarse, fine in zip(hier.levels, hier.levels[1:]):
        for i in range(3):
            for c in fine[i].unique():
                assert len(coarse[i][fine[i] == c].unique()) == 1
    # the first level is k-means of the deepest layer alone (L2-normalised, on the grid)
    acts = []
    handle = tiny_cnn.layer2.register_forward_hook(lambda m, i, o: acts.append(o))
    tiny_cnn(x)
    handle.remove()
    deep = acts[0] / acts[0].norm(dim=1, keepdim=True)
    deep = torch.nn.functional.interpolate(deep, size=(32, 32), mode="bilinear")
    expected = batched_kmeans(deep.flatten(2).transpose(1, 2), 2, seed=0, tol=nas.tol).labels
    assert torch.equal(hier.levels[0].flatten(1), expected)
    # centroids are the segment means of the embedding, inertia the spread around them
    emb = hier.embedding[0].flatten(1).T
    lab = hier.levels[-1][0].flatten()
    for c in lab.unique():
        torch.testing.assert_close(hier.centroids[0, c], emb[lab == c].mean(0))
    spread = ((emb - hier.centroids[0, lab]) ** 2).sum()
    torch.testing.assert_close(hier.inertia[0], spread, rtol=1e-4, atol=1e-4)


def test_hierarchical_computes_each_depths_features_once(
    tiny_cnn: nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    nas = NASSegmenter(tiny_cnn, n_segments=6, mode="hierarchical", color_weight=0.0)
    expected = nas(x)
    calls: list[tuple[int, ...]] = []
    original = NASSegmenter._depth_features

    def counting(self: NASSegmenter, act: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        calls.append(tuple(act.shape))
        return original(self, act, grid)

    monkeypatch.setattr(NASSegmenter, "_depth_features", counting)
    assert torch.equal(nas(x), expected)
    assert len(calls) == len(nas.layers_for(x)) == len(set(calls))


def test_explicit_layer_weights_follow_the_order_of_layers(tiny_cnn: nn.Module) -> None:
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    opts = {"spatial_weight": 0.0, "pca_dims": None, "color_weight": 0.0}
    fine_first = NASSegmenter(
        tiny_cnn, layers=["layer1", "layer2"], layer_weights=[1.0, 0.0], **opts
    ).embed(x)
    deep_first = NASSegmenter(
        tiny_cnn, layers=["layer2", "layer1"], layer_weights=[0.0, 1.0], **opts
    ).embed(x)
    only_layer1 = NASSegmenter(tiny_cnn, layers=["layer1"], **opts).embed(x)
    # weight 1 on layer1 and 0 on layer2 whichever order the layers are listed in
    torch.testing.assert_close(fine_first, only_layer1)
    torch.testing.assert_close(deep_first, only_layer1)


def test_hierarchical_batch_equals_one_by_one_and_is_deterministic(tiny_cnn: nn.Module) -> None:
    x = torch.randn(4, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    nas = NASSegmenter(tiny_cnn, n_segments=6, mode="hierarchical")
    full = nas(x)
    assert torch.equal(full, nas(x))
    for i in range(4):
        assert torch.equal(nas(x[i : i + 1])[0], full[i])


def test_hierarchical_splits_two_photos_along_the_seam(lite0: nn.Module) -> None:
    images, truths = seam_composites(("chelsea", "coffee"))  # left/right splits first
    seg = NASSegmenter(lite0, n_segments=2, mode="hierarchical", **LEGACY_NAS_OPTIONS)(
        NORM(images[:2])
    )
    assert float(_seam_accuracy(seg[:, 0], truths[:2]).min()) >= 0.9


def test_mode_is_validated(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="mode"):
        NASSegmenter(tiny_cnn, mode="tree")


# -- colour term, depth-weight ratio, refinement, legacy options ----------------------
def test_colour_term_is_the_weighted_lab_of_each_grid_cell(tiny_cnn: nn.Module) -> None:
    from captum_nas.segmentation.refine import color_features

    gen = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 32, 32, generator=gen)
    base = NASSegmenter(tiny_cnn, color_weight=0.0, spatial_weight=0.0, refine=None)
    nas = NASSegmenter(
        tiny_cnn, color_weight=0.7, spatial_weight=0.0, refine=None, to_image=lambda x: x
    )
    plain, emb = base.embed(img), nas.embed(img)
    assert emb.shape[1] == plain.shape[1] + 3
    assert torch.allclose(emb[:, :-3], plain)
    # grid 16x16 for 32 px inputs: each cell is the mean of a 2x2 block of pixels
    lab = color_features(img).unfold(2, 2, 2).unfold(3, 2, 2).mean((-1, -2))
    assert torch.allclose(emb[:, -3:], 0.7 * lab, atol=1e-5)


def test_mean_std_and_minmax_recover_the_image(tiny_cnn: nn.Module) -> None:
    img = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    x = NORM(img)
    by_stats = NASSegmenter(tiny_cnn, mean=NORM.mean, std=NORM.std).images(x)
    assert torch.allclose(by_stats, img, atol=1e-5)
    by_fn = NASSegmenter(tiny_cnn, to_image=NORM.inverse).images(x)
    assert torch.allclose(by_fn, img, atol=1e-5)
    minmax = NASSegmenter(tiny_cnn).images(x)
    assert float(minmax.min()) == 0.0 and float(minmax.max()) == 1.0


def test_depth_weight_ratio(tiny_cnn: nn.Module) -> None:
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    opts = {"color_weight": 0.0, "refine": None}
    geo = NASSegmenter(tiny_cnn, layer_weights="geometric", **opts).embed(x)
    assert torch.allclose(NASSegmenter(tiny_cnn, layer_weights=2.0, **opts).embed(x), geo)
    eq = NASSegmenter(tiny_cnn, layer_weights="equal", **opts).embed(x)
    assert torch.allclose(NASSegmenter(tiny_cnn, layer_weights=1.0, **opts).embed(x), eq)
    # ratio 1.5 on three depths: weights 1, 1.5, 2.25 (finest first), normalised
    nas = NASSegmenter(tiny_cnn, layer_weights=1.5, **opts)
    acts = nas._activations(x, nas.layers_for(x))
    assert nas._depth_weights(acts) == [1.0, 1.5, 2.25]


def test_legacy_options_reproduce_the_first_release(tiny_cnn: nn.Module) -> None:
    from captum_nas.segmentation.nas import LEGACY_NAS_OPTIONS

    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    legacy = NASSegmenter(tiny_cnn, n_segments=5, **LEGACY_NAS_OPTIONS)  # type: ignore[arg-type]
    old = NASSegmenter(
        tiny_cnn,
        n_segments=5,
        layer_weights="geometric",
        color_weight=0.0,
        refine=None,
        grid_size=56,
        spatial_weight=0.3,
        pca_dims=32,
        tol=0.0,
        seed_points=None,
    )
    assert torch.equal(legacy(x), old(x))
    assert not torch.equal(NASSegmenter(tiny_cnn, n_segments=5)(x), old(x))


def test_refined_borders_follow_the_image_edge(lite0: nn.Module) -> None:
    """Two photos split at column 100, off the 4-pixel grid of a 56x56 working grid
    (224 px): with refinement the K=2 border lies on the seam at the input resolution."""
    left, right = sample_image("coffee"), sample_image("immunohistochemistry")
    img = left.clone()
    img[:, :, 102:] = right[:, :, 102:]
    truth = torch.zeros(224, 224, dtype=torch.long)
    truth[:, 102:] = 1
    opts = {
        "n_segments": 2,
        "layer_weights": "geometric",
        "color_weight": 0.0,
        "to_image": NORM.inverse,
    }
    plain = NASSegmenter(lite0, refine=None, **opts)(NORM(img[None]))[0, 0]
    refined = NASSegmenter(lite0, refine=3, refine_color_weight=1.0, **opts)(NORM(img[None]))[0, 0]
    acc_plain = float(_seam_accuracy(plain, truth))
    acc_refined = float(_seam_accuracy(refined, truth))
    assert acc_refined >= 0.97
    assert acc_refined >= acc_plain


def test_bad_new_options(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="color_weight"):
        NASSegmenter(tiny_cnn, color_weight=-0.1)
    with pytest.raises(ValueError, match="refine"):
        NASSegmenter(tiny_cnn, refine=-1)
    with pytest.raises(TypeError, match="refine"):
        NASSegmenter(tiny_cnn, refine=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refine_color_weight"):
        NASSegmenter(tiny_cnn, refine_color_weight=-1.0)
    with pytest.raises(ValueError, match="not both"):
        NASSegmenter(tiny_cnn, to_image=lambda x: x, mean=[0.5] * 3, std=[0.5] * 3)
    with pytest.raises(ValueError, match="together"):
        NASSegmenter(tiny_cnn, mean=[0.5] * 3)
    with pytest.raises(TypeError, match="to_image"):
        NASSegmenter(tiny_cnn, to_image=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layer_weights"):
        NASSegmenter(tiny_cnn, layer_weights=-2.0)
    with pytest.raises(ValueError, match="to_image"):
        NASSegmenter(tiny_cnn, color_weight=0.5, to_image=lambda x: x[:, :1])(
            torch.rand(1, 3, 32, 32)
        )


def test_bad_kmeans_stopping_options(tiny_cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="tol"):
        NASSegmenter(tiny_cnn, tol=1.0)
    with pytest.raises(TypeError, match="tol"):
        NASSegmenter(tiny_cnn, tol=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed_points"):
        NASSegmenter(tiny_cnn, seed_points=0)


def test_kmeans_options_reach_the_clustering(
    tiny_cnn: nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tol`` and ``seed_points`` are what the flat k-means gets (hierarchical: ``tol``)."""
    from captum_nas.segmentation import nas as nas_module

    seen: list[dict] = []
    real = nas_module.batched_kmeans

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(nas_module, "batched_kmeans", spy)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    NASSegmenter(tiny_cnn, n_segments=4, tol=0.05, seed_points=64)(x)
    assert seen[-1]["tol"] == 0.05 and seen[-1]["seed_points"] == 64
    NASSegmenter(tiny_cnn, n_segments=4, tol=0.05, mode="hierarchical")(x)
    assert seen[-1]["tol"] == 0.05 and "seed_points" not in seen[-1]
