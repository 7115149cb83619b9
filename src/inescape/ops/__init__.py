"""Operations on a whole installation (backup and restore), driven by the ``inescape`` CLI."""
