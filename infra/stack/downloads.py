"""Fetch the broker's and the registry's artifacts from Maven Central, once per machine.

Everything goes through Maven (checksums enforced) into a private local repository under
the cache directory, then into a versioned folder that is renamed into place only when
complete, so an interrupted download is simply redone and a second clone reuses it.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from infra.stack.errors import StackError

POMS = Path(__file__).parent / "maven"
Report = Callable[[str], None]


def kafka_libs(cache: Path, version: str, report: Report) -> Path:
    """The folder of Kafka ``version``'s runtime jars, downloading them if needed."""
    target = cache / f"kafka-{version}" / "libs"
    if target.is_dir():
        return target
    report(f"downloading Kafka {version} jars from Maven Central (once per machine)")
    staging = _staging(target)
    _maven(cache, "kafka", POMS / "kafka.pom.xml", staging, {"kafka.version": version})
    staging.rename(target)
    return target


def apicurio_home(cache: Path, version: str, report: Report) -> Path:
    """The unpacked Apicurio Registry ``version``, downloading it if needed."""
    target = cache / f"apicurio-{version}"
    if target.is_dir():
        return target
    report(f"downloading Apicurio Registry {version} from Maven Central (once per machine)")
    stub = cache / "apicurio-parent.pom.xml"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text((POMS / "apicurio-parent.pom.xml").read_text().replace("@VERSION@", version))
    _run_maven(cache, "registry", ["install:install-file", f"-Dfile={stub}", f"-DpomFile={stub}"])
    tarballs = _staging(cache / f"apicurio-{version}-download")
    _maven(cache, "registry", POMS / "registry.pom.xml", tarballs, {"apicurio.version": version})
    staging = _staging(target)
    for tarball in tarballs.glob("*.tar.gz"):
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
    shutil.rmtree(tarballs)
    staging.rename(target)
    return target


def _staging(target: Path) -> Path:
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _maven(cache: Path, component: str, pom: Path, out: Path, props: dict[str, str]) -> None:
    defines = [f"-D{key}={value}" for key, value in props.items()]
    goal = ["-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={out}"]
    _run_maven(cache, component, [*goal, "-DincludeScope=runtime", *defines])


def _run_maven(cache: Path, component: str, args: list[str]) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(component, "Maven (mvn) is not installed; run `make install`")
    log = cache / f"maven-{component}.log"
    argv = [mvn, "-B", "-q", "--strict-checksums", f"-Dmaven.repo.local={cache / 'm2'}", *args]
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(component, "Maven download timed out after 900s", log) from exc
    if done.returncode != 0:
        raise StackError(component, f"Maven download failed (exit {done.returncode})", log)
