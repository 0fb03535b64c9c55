"""Views of the organisation area: ``units`` (tree and unit pages) and ``people``."""

from pbqms.orgs.views.people import (
    person_create,
    person_detail,
    person_edit,
    person_list,
    person_transfer,
)
from pbqms.orgs.views.units import (
    tree,
    tree_children,
    unit_create,
    unit_detail,
    unit_dissolve,
    unit_edit,
    unit_move,
)

__all__ = [
    "person_create",
    "person_detail",
    "person_edit",
    "person_list",
    "person_transfer",
    "tree",
    "tree_children",
    "unit_create",
    "unit_detail",
    "unit_dissolve",
    "unit_edit",
    "unit_move",
]
