"""Merge superpixels into regions by their mean deep features (Ward, adjacent pairs only).

The edge-accurate NAS mode: colour superpixels (SLIC) follow the image's edges at the
input resolution; merging them by the classifier's features (the NAS embedding,
averaged over each superpixel) groups them into semantic regions whose borders are
the superpixels' borders.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def superpixel_adjacency(labels: np.ndarray) -> np.ndarray:
    """Unique pairs (a, b), a < b, of 4-adjacent ids in an (H, W) label image, (P, 2)."""
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1),
    ]
    p = np.concatenate(pairs)
    p = p[p[:, 0] != p[:, 1]]
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0) if len(p) else p.reshape(0, 2)


def ward_merge(features: np.ndarray, sizes: np.ndarray, pairs: np.ndarray, k: int) -> np.ndarray:
    """Greedy Ward merging of adjacent nodes down to ``k`` groups.

    At each step the adjacent pair with the smallest increase of within-group squared
    error, ``na nb / (na + nb) ||ma - mb||^2``, is merged.

    Args:
        features: (S, D) mean feature per node.
        sizes: (S,) positive weights (pixel counts).
        pairs: (P, 2) adjacent node pairs.
        k: number of groups wanted (merging stops earlier when no adjacent pair is left).

    Returns:
        (S,) group id per node, contiguous from 0.

    Example:
        >>> ward_merge(np.array([[0.0], [0.1], [5.0]]), np.ones(3), np.array([[0, 1], [1, 2]]), 2)
        array([0, 0, 1])
    """
    n = len(features)
    means = features.astype(np.float64).copy()
    w = sizes.astype(np.float64).copy()
    parent = np.arange(n)
    alive = n
    edges = {(int(a), int(b)) for a, b in pairs}
    while alive > k and edges:
        e = np.array(sorted(edges))
        a, b = e[:, 0], e[:, 1]
        diff = means[a] - means[b]
        cost = w[a] * w[b] / (w[a] + w[b]) * (diff * diff).sum(1)
        i = int(np.argmin(cost))
        keep, gone = int(a[i]), int(b[i])
        total = w[keep] + w[gone]
        means[keep] = (means[keep] * w[keep] + means[gone] * w[gone]) / total
        w[keep] = total
        parent[parent == gone] = keep
        new_edges = set()
        for x, y in edges:
            x = keep if x == gone else x
            y = keep if y == gone else y
            if x != y:
                new_edges.add((min(x, y), max(x, y)))
        edges = new_edges
        alive -= 1
    _, out = np.unique(parent, return_inverse=True)
    return out


def merge_superpixels(superpixels: Tensor, embedding: Tensor, n_segments: int) -> Tensor:
    """Merge each image's superpixels into ``n_segments`` regions by mean embedding.

    Args:
        superpixels: (N, H, W) integer ids.
        embedding: (N, D, h, w) per-pixel features on a grid (bilinearly brought to
            (H, W) to average over each superpixel).
        n_segments: regions per image.

    Returns:
        LongTensor (N, H, W) of region ids (contiguous per image).
    """
    out = []
    big = tuple(superpixels.shape[-2:])
    for sp, emb in zip(superpixels, embedding):
        ids = sp.long().flatten()
        s = int(ids.max()) + 1
        up = F.interpolate(emb[None].float(), size=big, mode="bilinear", align_corners=False)[0]
        feats = torch.zeros(s, emb.shape[0], dtype=up.dtype)
        feats.index_add_(0, ids.cpu(), up.reshape(emb.shape[0], -1).T.cpu())
        sizes = torch.bincount(ids.cpu(), minlength=s).double()
        feats = feats / sizes.clamp_min(1).unsqueeze(1).to(feats.dtype)
        lab = sp.cpu().numpy()
        groups = ward_merge(
            feats.numpy(), np.maximum(sizes.numpy(), 1.0), superpixel_adjacency(lab), n_segments
        )
        out.append(torch.from_numpy(groups[lab]).to(sp.device))
    return torch.stack(out).long()
