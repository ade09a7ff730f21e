"""MkDocs hook: the manual links to files of the repository outside docs/ (results
tables, run folders, configs) by their path from the page, as GitHub shows them. MkDocs
knows only docs/, so every relative link is checked here: a missing page or file is a
warning, which the strict build turns into a failure. A repository file or folder is
copied into the site under repository/ and the link pointed at the copy; a folder gets a
page listing its files.
"""

import html
import logging
import os
import posixpath
import re
import shutil

log = logging.getLogger("mkdocs.plugins.repository_links")
LINK = re.compile(r"(\]\()([^)#\s:]+)([)#])")  # relative: no scheme
_copied = set()


def on_page_markdown(markdown, page, config, files):
    docs_dir = config["docs_dir"]
    repository = os.path.dirname(os.path.abspath(docs_dir))
    page_dir = posixpath.dirname(page.file.src_uri)

    def relink(match):
        target = posixpath.normpath(posixpath.join("docs", page_dir, match.group(2)))
        path = os.path.join(repository, target)
        if target.startswith("docs/"):  # a page or picture of the manual
            if not os.path.exists(path):
                log.warning(
                    "Doc file '%s' links to '%s', which does not exist", page.file.src_uri, target
                )
            return match.group(0)
        if not os.path.exists(path):
            log.warning(
                "Doc file '%s' links to '%s', which does not exist", page.file.src_uri, target
            )
            return match.group(0)
        _copied.add(target)
        site_target = posixpath.join("repository", target) + ("/" if os.path.isdir(path) else "")
        depth = page.file.src_uri.count("/")  # the link stays relative to the page's folder
        return match.group(1) + "../" * depth + site_target + match.group(3)

    return LINK.sub(relink, markdown)


def on_post_build(config):
    repository = os.path.dirname(os.path.abspath(config["docs_dir"]))
    for target in sorted(_copied):
        source = os.path.join(repository, target)
        copy = os.path.join(config["site_dir"], "repository", target)
        if os.path.isdir(source):
            shutil.copytree(source, copy, dirs_exist_ok=True)
            names = sorted(os.listdir(source))
            items = "".join(
                f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names
            )
            with open(os.path.join(copy, "index.html"), "w", encoding="utf-8") as f:
                f.write(f"<h1>{html.escape(target)}</h1><ul>{items}</ul>\n")
        else:
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            shutil.copy2(source, copy)
    _copied.clear()
