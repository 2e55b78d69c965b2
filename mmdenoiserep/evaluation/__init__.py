"""Evaluation metrics registered in ``mmdenoiserep.registry.METRICS`` (config types ``mmdenoiserep.X``)."""
from .boundary_iou import BoundaryIoUMetric, boundary_intersection_and_union, boundary_width, mask_boundary
from .reid import ReIDMetric, reid_rank

__all__ = ['BoundaryIoUMetric', 'boundary_intersection_and_union', 'boundary_width', 'mask_boundary',
           'ReIDMetric', 'reid_rank']
