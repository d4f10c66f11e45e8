"""Makes `import dumbtorch` work from any directory after `make build`: writes a .pth file
into site-packages that points at python/ (where the build drops the extension _C)."""
import pathlib
import site
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "python"
target = pathlib.Path(site.getsitepackages()[0]) / "dumbtorch-dev.pth"
if not target.exists() or target.read_text().strip() != str(src):
    target.write_text(str(src) + "\n")
    print(f"install_pth: {target} -> {src}", file=sys.stderr)
