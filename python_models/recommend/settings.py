"""Settings of a recommendation run, in one place; the defaults suit most shops."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RecommendSettings"]


@dataclass(frozen=True)
class RecommendSettings:
    """Every knob of the recommenders, the blend and the holdout.

    k : products per customer in ``customer_recommendations``.
    candidates_per_source : each recommender's top products that the blend ranks (own products: the top ones by
        the repeat score).
    half_life_days : recency weight of the repeat baseline.
    min_support, neighbours : item k-NN (the dbt model ``item_similarity`` uses the same).
    l2_grid : EASE^R's regularisation candidates, chosen on the validation split.
    ease_max_products : EASE^R's catalogue (the most bought products; its cost grows with their cube).
    als_factors, als_regularization, als_iterations, num_threads : ALS through ``implicit``.
    trend_days : the recent window of the popularity trend feature.
    segment_shrinkage : pseudo-customers pulling a segment's popularity towards the shop's (cold start).
    exclude_purchased : ``"auto"``, ``"always"`` or ``"never"``: whether lists leave out products the customer
        bought. ``auto`` keeps them when at least ``repeat_share_threshold`` of the holdout's purchases
        (customer x product) were repurchases.
    max_eval_customers, max_train_customers : seeded samples that bound the holdout's cost on large shops.
    batch_entries : customers are scored in batches of about this many customer x product scores.
    random_state : seeds ALS, the ranker and the samples.
    """

    k: int = 10
    candidates_per_source: int = 30
    half_life_days: float = 180.0
    min_support: int = 2
    neighbours: int = 50
    l2_grid: tuple[float, ...] = (50.0, 200.0, 800.0)
    ease_max_products: int = 5000
    als_factors: int = 64
    als_regularization: float = 0.05
    als_iterations: int = 15
    num_threads: int = 1
    trend_days: int = 30
    segment_shrinkage: float = 20.0
    exclude_purchased: str = "auto"
    repeat_share_threshold: float = 0.1
    max_eval_customers: int = 20_000
    max_train_customers: int = 5_000
    batch_entries: int = 20_000_000
    random_state: int = 0

    def __post_init__(self):
        if self.exclude_purchased not in ("auto", "always", "never"):
            raise ValueError(f"exclude_purchased must be auto, always or never, got {self.exclude_purchased!r}")
        if self.k < 1 or not 1 <= self.candidates_per_source <= 1000:
            raise ValueError("k must be at least 1 and candidates_per_source between 1 and 1000")
        if not self.l2_grid:
            raise ValueError("l2_grid needs at least one value")

    def batch_size(self, n_products: int) -> int:
        return max(1, min(10_000, self.batch_entries // max(n_products, 1)))
