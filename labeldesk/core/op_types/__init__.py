"""Built-in op types; importing this package registers them."""
from labeldesk.core.op_types import (  # noqa: F401
    annotations, assets, classifications, conflicts, layers, ontology, people, review, settings)
from labeldesk.core.op_types import predictions, releases  # noqa: F401,E402
from labeldesk.core.op_types import models  # noqa: F401,E402
from labeldesk.core.op_types import quality  # noqa: F401,E402
from labeldesk.core.op_types import keys  # noqa: F401,E402
from labeldesk.core.op_types import segments  # noqa: F401,E402
