"""The reconciler: belief vs reality per resource, as drift alerts on drift.v1."""
