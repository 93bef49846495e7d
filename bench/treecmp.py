"""Tree helpers shared by the benchmarks: the files of a tree, and byte-for-byte comparison."""
import os


def files_of(root):
    """Relative path -> full path of every file below `root` (a single file maps from "")."""
    if os.path.isfile(root):
        return {"": root}
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = p
    return out


def same_tree(a, b):
    """True when `a` and `b` hold the same files with the same bytes."""
    fa, fb = files_of(a), files_of(b)
    if fa.keys() != fb.keys():
        return False
    return all(open(fa[k], "rb").read() == open(fb[k], "rb").read() for k in fa)
