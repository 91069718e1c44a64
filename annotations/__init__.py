"""The labeling domain: projects, label classes, items, memberships, assignments, annotations."""
