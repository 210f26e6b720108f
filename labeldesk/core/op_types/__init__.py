"""Built-in op types; importing this package registers them."""
from labeldesk.core.op_types import annotations, assets, layers, ontology, people, settings  # noqa: F401
