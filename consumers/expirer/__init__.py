"""The expirer: fails approval requests closed once their deadline passes."""
