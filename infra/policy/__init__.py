"""The policy engine: Rego bundles compiled and evaluated in-process by regopy.

regopy is imported first, before anything that could install a native allocator hook
(greenlet and the like): with such a hook in place, its allocator leaks on every query
(see STACK.md). Import this package before Kafka, HTTP or stream libraries.
"""

import regopy  # noqa: F401  # imported first on purpose, see above
