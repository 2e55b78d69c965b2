"""Files that are never half-written: a temporary file in the target's folder, then a rename."""
import os
import os.path as osp
import tempfile
from typing import BinaryIO, Callable

__all__ = ['write_atomically']


def _new_file_mode(path: str) -> int:
    """The mode ``open(path, 'w')`` gives: the existing file's, else 0o666 minus the umask."""
    if osp.exists(path):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a binary file in ``path``'s folder (made if missing), then rename it to
    ``path``: ``path`` is either left as it was or holds the complete new file, with the mode a plain
    ``open(path, 'wb')`` would give it. On any error the temporary file is removed."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
