#!/usr/bin/env python3
"""Deterministic benchmark corpus generator for feedsmith.

Writes N Jekyll-style posts (SPEC.md section 1 shape) into a directory:

    bench/gen_corpus.py --posts 10000 --out /tmp/corpus10k [--seed 1] [--force]

Each post is ``YYYY-MM-DD-slug-NNNNN.md`` with front matter (layout, quoted
title, date with UTC offset, categories, tags) followed by a 2-10 KB body
(UTF-8 bytes) of HTML paragraphs or Markdown, ending with the bare source
autolink and the "返回..." navigation line, like the newspaper sample post.

Properties:

* Deterministic: the same --posts and --seed give byte-identical files
  (everything comes from random.Random(seed); nothing depends on the clock,
  the locale, the hash seed or the file system).
* Post i's date falls in the i-th of N equal slots of 2015-01-01 ..
  2025-12-31 (jittered inside it), so dates are spread evenly; the tag and
  category vocabularies are fixed, independent of --seed and N.
* About 60% Chinese posts, 40% English; about 20% Markdown bodies, the rest
  HTML <p> paragraphs; ~25 categories (~10% of posts have two); 1-4 tags per
  post from a fixed vocabulary of 600 tags with Zipf-like frequency.
* Standard library only. 100,000 posts take a few seconds plus disk time.

A one-line summary is printed at the end:
``posts=N bytes=B categories=C tags=T seconds=S``.
"""

import argparse
import bisect
import itertools
import os
import shutil
import sys
import time
from datetime import datetime, timedelta
from random import Random

# --------------------------------------------------------------------------
# Fixed vocabularies (independent of --seed, so tag/category sets are stable)
# --------------------------------------------------------------------------

CATEGORIES = [
    # slug, display name used in the "返回..." link
    ("shamenribao", "厦门日报新闻"),
    ("haixiadaobao", "海峡导报新闻"),
    ("xiamenwanbao", "厦门晚报新闻"),
    ("guonei", "国内新闻"),
    ("guoji", "国际新闻"),
    ("caijing", "财经"),
    ("tiyu", "体育"),
    ("keji", "科技"),
    ("wenhua", "文化"),
    ("jiaoyu", "教育"),
    ("jiankang", "健康"),
    ("lvyou", "旅游"),
    ("qiche", "汽车"),
    ("fangchan", "房产"),
    ("shehui", "社会"),
    ("minsheng", "民生"),
    ("liangan", "两岸"),
    ("tech", "Tech"),
    ("rust", "Rust"),
    ("opensource", "Open Source"),
    ("science", "Science"),
    ("business", "Business"),
    ("world", "World"),
    ("sports", "Sports"),
    ("opinion", "Opinion"),
]
# relative weights: newspaper categories dominate, like the real site
CATEGORY_WEIGHTS = [30, 12, 10, 8, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 4, 4, 3,
                    5, 3, 2, 2, 2, 2, 2, 1]
ZH_CATEGORIES = 17  # the first 17 are Chinese-language sections

CATEGORY_SOURCE = {
    "shamenribao": "厦门日报", "haixiadaobao": "海峡导报", "xiamenwanbao": "厦门晚报",
}

ZH_PLACES = [
    "厦门", "福州", "泉州", "漳州", "龙岩", "莆田", "三明", "南平", "宁德", "思明",
    "湖里", "海沧", "集美", "同安", "翔安", "鼓浪屿", "金门", "两岸", "福建", "闽南",
]
ZH_TOPICS = [
    "新闻", "交通", "教育", "医疗", "旅游", "经济", "文化", "体育", "天气", "楼市",
    "招聘", "美食", "环保", "科技", "民生", "政务", "法治", "社区", "港口", "会展",
]
ZH_EXTRA_TAGS = [
    "厦门日报新闻", "海峡导报新闻", "厦门晚报新闻", "台海", "一带一路", "自贸区", "金砖",
    "马拉松", "中秋博饼", "高考", "中考", "地铁", "BRT", "疫情防控", "垃圾分类", "文明城市",
    "乡村振兴", "海丝", "台风", "春运", "国庆", "春节", "元宵", "端午", "跨境电商",
    "人工智能", "新能源", "芯片", "数字经济", "营商环境", "老旧小区改造", "保障房",
    "公积金", "社保", "医保", "养老", "托育", "双减", "非遗", "南音", "高甲戏", "歌仔戏",
    "沙茶面", "土笋冻", "海蛎煎", "闽南语", "华侨", "侨乡", "筼筜湖", "环岛路", "曾厝垵",
    "厦门大学", "集美大学", "华侨大学", "厦门马拉松", "金鸡奖", "投洽会", "石材展", "佛事展",
]
EN_TAGS = [
    "rust", "python", "go", "javascript", "typescript", "linux", "web", "rss", "atom",
    "json-feed", "http", "tokio", "async", "performance", "benchmark", "database",
    "postgres", "sqlite", "redis", "kubernetes", "docker", "wasm", "webassembly", "cli",
    "security", "tls", "dns", "networking", "compilers", "llvm", "gcc", "c", "c++",
    "node.js", "deno", "react", "vue", "svelte", "css", "html", "markdown", "jekyll",
    "hugo", "static-sites", "open-source", "licensing", "git", "github", "ci", "testing",
    "fuzzing", "unicode", "i18n", "utf-8", "time-zones", "dates", "parsing", "yaml",
    "toml", "xml", "serde", "cargo", "crates", "embedded", "iot", "raspberry-pi",
    "machine-learning", "ai", "llm", "data", "statistics", "visualization", "science",
    "physics", "astronomy", "climate", "energy", "solar", "batteries", "ev", "transport",
    "cities", "housing", "economy", "markets", "startups", "remote-work", "careers",
    "education", "books", "history", "travel", "food", "coffee", "football", "tennis",
    "running", "cycling", "olympics", "music", "film", "photography", "design",
    "typography", "accessibility", "privacy", "gdpr", "policy", "elections", "asia",
    "europe", "africa", "americas", "china", "taiwan", "japan", "korea", "india",
    "opinion", "interview", "review", "tutorial", "release", "announcement", "howto",
    "debugging", "profiling", "memory", "concurrency", "lock-free", "simd", "gpu",
    "vulkan", "graphics", "games", "audio", "video", "codecs", "compression", "zstd",
    "cryptography", "passkeys", "oauth", "api", "rest", "graphql", "grpc", "protobuf",
    "observability", "logging", "tracing", "metrics", "sre", "devops", "terraform",
    "aws", "cloud", "self-hosting", "homelab", "email", "spam", "feeds", "podcasts",
    "newsletters", "blogging", "indieweb", "fediverse", "mastodon", "activitypub",
]


def _build_tags():
    """600 distinct tags in Zipf rank order (rank 0 = most common)."""
    rng = Random(600)  # fixed: the tag vocabulary does not depend on --seed
    zh = [p + t for p in ZH_PLACES for t in ZH_TOPICS]
    rng.shuffle(zh)
    en = list(EN_TAGS)
    extra_en = [a + "-" + b for a in ("rust", "web", "data", "cloud", "open")
                for b in ("tips", "news", "weekly", "notes", "internals", "patterns")]
    en += extra_en
    extra = list(ZH_EXTRA_TAGS)
    seen, tags = set(), []
    # a few hand-picked heads so the most common tags are recognisable
    for t in ["厦门日报新闻", "rust", "厦门新闻", "海峡导报新闻", "web", "民生", "python",
              "厦门交通", "linux", "厦门晚报新闻"]:
        if t not in seen:
            seen.add(t)
            tags.append(t)
    pool = zh[:300] + en + extra + ["民生"]
    rng.shuffle(pool)
    for t in pool:
        if t not in seen:
            seen.add(t)
            tags.append(t)
    for t in zh[300:]:
        if len(tags) >= 600:
            break
        if t not in seen:
            seen.add(t)
            tags.append(t)
    return tags[:600]


TAGS = _build_tags()
# Zipf-like, s = 1.05
TAG_CUM = list(itertools.accumulate(1.0 / (r + 1) ** 1.05 for r in range(len(TAGS))))
CAT_CUM = list(itertools.accumulate(CATEGORY_WEIGHTS))

ZH_TIME = ["今年以来，", "近日，", "昨日，", "上周，", "今年前十一个月，", "据了解，",
           "记者从有关部门获悉，", "截至目前，", "日前，", "去年，", "", "", ""]
ZH_SUBJ = ["厦门港", "市教育局", "思明区", "海沧区", "全市", "该项目", "相关部门", "不少市民",
           "各地游客", "辖区企业", "志愿者们", "社区工作人员", "本地高校", "地铁三号线",
           "市交通运输局", "市场监管部门", "自贸片区", "翔安新机场", "集美学村", "鼓浪屿景区",
           "市卫健委", "市文旅局", "两岸青年", "外贸企业", "科研团队"]
ZH_PRED = ["完成了", "启动了", "推出了", "加快推进", "持续优化", "新增了", "举办了",
           "发布了", "迎来了", "着力打造", "积极参与", "认真落实", "全面提升", "稳步推进"]
ZH_OBJ = ["一批重点项目", "外贸航线", "便民服务措施", "年度工作计划", "智慧城市建设",
          "老旧小区改造", "文化旅游活动", "公共交通线路", "人才引进政策", "生态环境治理",
          "集装箱吞吐量", "营商环境建设", "社区养老服务", "校园安全工作", "数字经济产业",
          "海上丝绸之路合作", "夜间经济", "城市更新行动", "科技创新平台", "志愿服务活动"]
ZH_TAIL = ["，同比增长{n}.{d}%", "，涉及金额约{n}亿元", "，惠及{n}万名市民", "，预计年底前完工",
           "，受到广泛关注", "，取得阶段性成效", "，进一步方便了群众出行", "，各项指标稳中有升",
           "，共吸引{n}万人次参与", "，为高质量发展注入新动能", "", ""]
ZH_END = ["。", "。", "。", "！", "；"]

ZH_TITLE_A = ["港口吞吐量创新高", "外贸航线再扩容", "地铁新线开通在即", "老旧小区焕新颜",
              "高考成绩今日放榜", "马拉松鸣枪开跑", "中秋博饼热闹开场", "台风过境全市平安",
              "新能源产业集聚发展", "两岸青年共话未来", "非遗传承人走进校园", "营商环境再升级",
              "社区食堂受欢迎", "文旅市场持续火热", "科技企业加速成长", "环岛路夜景惹人醉",
              "“一老一小”服务提质", "《闽南方言词典》出版", "垃圾分类成效显著", "春运返程高峰到来"]
ZH_TITLE_B = ["外贸航线再扩容", "市民出行更便利", "多项指标全省第一", "惠及十万家庭",
              "游客量同比翻番", "专家解读新政策", "记者现场探访", "这些变化你注意到了吗",
              "附办理指南", "全年目标提前完成", "", "", ""]

EN_ADJ = ["fast", "quiet", "robust", "incremental", "hidden", "new", "old", "surprising",
          "practical", "simple", "careful", "lazy", "concurrent", "minimal", "portable",
          "stable", "noisy", "local", "global", "strange", "useful", "modern", "legacy"]
EN_NOUN = ["parser", "feed", "server", "cache", "reader", "city", "harbour", "council",
           "compiler", "team", "runtime", "library", "benchmark", "market", "network",
           "project", "release", "timeline", "index", "archive", "museum", "festival",
           "pipeline", "protocol", "queue", "watcher", "schedule", "budget", "report"]
EN_VERB = ["improves", "replaces", "reveals", "rewrites", "measures", "publishes",
           "watches", "breaks", "serves", "parses", "validates", "caches", "ships",
           "delays", "approves", "rejects", "expands", "simplifies", "tracks", "explains"]
EN_PREP = ["for", "with", "without", "across", "after", "before", "inside", "near",
           "under", "through", "despite", "beyond"]
EN_DET = ["the", "a", "every", "this", "our", "their", "one", "no"]
EN_ADV = ["quietly", "finally", "again", "suddenly", "slowly", "carefully", "already",
          "reportedly", "clearly", "mostly"]
EN_TITLE_FORMS = [
    "{A} {N} {V} the {N2}",
    "Why the {N} {V} {D} {A} {N2}",
    "How we made our {N} {A}: lessons from {n} releases",
    "{A} {N}s and \"{A2}\" {N2}s",
    "Notes on {N}s, {N2}s & {A} things",
    "Vec<{N}> vs. [{N2}; {n}]: a {A} benchmark",
    "It's {A}: the {N} that {V} everything",
    "Q&A: {A} {N}s in {y}",
    "The {N} at C:\\{N2}\\{n}",
    "{A} {N} #{n}",
]

SLUG_WORDS = ["port", "record", "metro", "line", "school", "exam", "city", "harbour",
              "trade", "route", "festival", "typhoon", "housing", "market", "science",
              "rust", "feed", "parser", "release", "notes", "review", "guide", "news",
              "update", "energy", "bridge", "island", "museum", "culture", "youth",
              "forum", "policy", "report", "weekly", "review", "travel", "food", "run"]

EN_LINK_HOSTS = ["https://example.org", "https://docs.example.net", "http://blog.example.com"]


def _build_sentence_pools(rng, size=4000):
    """Pre-generate sentence pools; posts pick sentences from them (fast)."""
    zh = []
    for _ in range(size):
        tail = rng.choice(ZH_TAIL).format(n=rng.randint(2, 980), d=rng.randint(0, 9))
        s = (rng.choice(ZH_TIME) + rng.choice(ZH_SUBJ) + rng.choice(ZH_PRED)
             + rng.choice(ZH_OBJ) + tail)
        if rng.random() < 0.3:  # a second clause
            s += "，" + rng.choice(ZH_SUBJ) + rng.choice(ZH_PRED) + rng.choice(ZH_OBJ)
        zh.append(s + rng.choice(ZH_END))
    en = []
    for _ in range(size):
        words = [rng.choice(EN_DET), rng.choice(EN_ADJ), rng.choice(EN_NOUN)]
        if rng.random() < 0.4:
            words.append(rng.choice(EN_ADV))
        words += [rng.choice(EN_VERB), rng.choice(EN_DET), rng.choice(EN_ADJ),
                  rng.choice(EN_NOUN)]
        for _ in range(rng.randint(0, 3)):
            words += [rng.choice(EN_PREP), rng.choice(EN_DET), rng.choice(EN_NOUN)]
        if rng.random() < 0.15:
            words.insert(rng.randint(3, len(words)), "(%d%%)" % rng.randint(1, 99))
        s = " ".join(words)
        s = s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!"])
        en.append(s)
    return zh, en


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def yaml_double(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_single(s):
    return "'" + s.replace("'", "''") + "'"


def zh_title(rng):
    a = rng.choice(ZH_TITLE_A)
    b = rng.choice(ZH_TITLE_B)
    while b == a:
        b = rng.choice(ZH_TITLE_B)
    t = a + (" " + b if b else "")
    r = rng.random()
    if r < 0.05:
        t = t + " \"独家\""
    elif r < 0.08:
        t = "【关注】" + t
    return t


def en_title(rng):
    form = rng.choice(EN_TITLE_FORMS)
    a, a2 = rng.choice(EN_ADJ), rng.choice(EN_ADJ)
    t = form.format(A=a.capitalize() if form.startswith("{A}") else a, A2=a2,
                    N=rng.choice(EN_NOUN), N2=rng.choice(EN_NOUN), V=rng.choice(EN_VERB),
                    D=rng.choice(EN_DET), n=rng.randint(2, 64), y=rng.randint(2015, 2025))
    return t[0].upper() + t[1:]


def pick_tags(rng, k, first=None):
    out = [first] if first else []
    while len(out) < k:
        t = TAGS[bisect.bisect_left(TAG_CUM, rng.random() * TAG_CUM[-1])]
        if t not in out:
            out.append(t)
    return out


def term_field(rng, key, terms, list_chance):
    """Front matter line(s) for categories/tags: string, block list or flow list."""
    r = rng.random()
    if len(terms) == 1 and r >= list_chance:
        return "%s: %s\n" % (key, terms[0])
    if r < list_chance * 0.6:
        return "%s:\n" % key + "".join("  - %s\n" % t for t in terms)
    if r < list_chance:
        return "%s: [%s]\n" % (key, ", ".join(terms))
    return "%s: %s\n" % (key, " ".join(terms))


# --------------------------------------------------------------------------
# Body generators
# --------------------------------------------------------------------------

def sentences_until(rng, pool, budget, sep):
    """Pick sentences from pool until their encoded size reaches budget."""
    out, size = [], 0
    sep_len = len(sep.encode())
    while size < budget:
        batch = rng.choices(pool, k=8)
        for s in batch:
            out.append(s)
            size += len(s.encode()) + sep_len
            if size >= budget:
                break
    return out, size


def html_body(rng, zh, pool, budget, idx, date, cat):
    sents, _ = sentences_until(rng, pool, budget, "")
    sep = "" if zh else " "
    parts = []
    i = 0
    first = True
    while i < len(sents):
        n = rng.randint(2, 6)
        chunk = sents[i:i + n]
        text = sep.join(chunk)
        i += n
        if first and zh and rng.random() < 0.5:
            text = "本报讯 " + text
        first = False
        r = rng.random()
        if r < 0.06:
            para = '<p><img src="/uploads/%s/%05d-%d.jpg" alt="%s"></p>' % (
                date.strftime("%Y/%m"), idx, i, "配图" if zh else "photo")
            parts.append(para)
        elif r < 0.10:
            para = '<p><strong>%s</strong></p>' % chunk[0]
            parts.append(para)
        elif r < 0.14 and not zh:
            text = text.replace(" the ", ' the <a href="/%s/">R&amp;D</a> ' % cat, 1)
        parts.append("<p>%s</p>" % text)
    if zh:
        src = CATEGORY_SOURCE.get(cat, "本站综合")
        parts.append('<p class="em_media">（文章来源：%s）</p>' % src)
    # like the sample: some paragraphs on new lines with a leading space, some glued
    out = [parts[0]]
    for p in parts[1:]:
        r = rng.random()
        out.append(("\n " if r < 0.5 else "\n" if r < 0.8 else "") + p)
    return "".join(out)


def markdown_body(rng, zh, pool, budget, idx, date, cat):
    sents, _ = sentences_until(rng, pool, budget, "")
    sep = "" if zh else " "
    blocks = []
    i = 0
    while i < len(sents):
        r = rng.random()
        if r < 0.12:
            blocks.append("## " + (rng.choice(ZH_TITLE_A) if zh else en_title(rng)))
        elif r < 0.27:
            n = rng.randint(2, 4)
            marker = "- " if rng.random() < 0.6 else None
            items = sents[i:i + n]
            i += n
            blocks.append("\n".join(
                (marker if marker else "%d. " % (k + 1)) + s for k, s in enumerate(items)))
            continue
        elif r < 0.34:
            blocks.append("![%s](%s/%05d-%d.png)" % (
                "图片" if zh else "figure",
                rng.choice(["images", "/images/" + date.strftime("%Y"), "../assets"]), idx, i))
        n = rng.randint(2, 5)
        text = sep.join(sents[i:i + n])
        i += n
        r = rng.random()
        if r < 0.25:
            link = "[%s](%s/%s/%05d.html)" % ("相关链接" if zh else "related post",
                                             rng.choice(EN_LINK_HOSTS), cat, idx + i)
            text = text + sep + link
        elif r < 0.4:
            text = text + sep + "[%s](/%s/)" % ("更多" if zh else "more", cat)
        elif r < 0.5:
            text = "**" + text[:12] + "**" + text[12:] if zh else "*" + text + "*"
        blocks.append(text)
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------
# Main generation
# --------------------------------------------------------------------------

START = datetime(2015, 1, 1)
END = datetime(2025, 12, 31, 23, 59, 59)
SPAN = int((END - START).total_seconds())
OFFSETS = ["+0000", "-0500", "+0530", "+0900", "-0800", "+0100", "+08:00"]
MIN_BODY, MAX_BODY = 2048, 10240


def make_post(rng, idx, n, pools, width):
    zh = rng.random() < 0.6
    # date: evenly spread over the span, jittered within the post's slot
    t = int((idx + rng.random()) * SPAN / n)
    date = START + timedelta(seconds=t)
    off = "+0800" if rng.random() < 0.85 else rng.choice(OFFSETS)

    # categories
    if zh:
        c = bisect.bisect_left(CAT_CUM, rng.random() * CAT_CUM[ZH_CATEGORIES - 1])
    else:
        c = rng.randrange(ZH_CATEGORIES, len(CATEGORIES)) if rng.random() < 0.7 else \
            bisect.bisect_left(CAT_CUM, rng.random() * CAT_CUM[-1])
    cats = [CATEGORIES[c]]
    if rng.random() < 0.10:
        c2 = rng.randrange(len(CATEGORIES))
        if c2 != c:
            cats.append(CATEGORIES[c2])
    cat = cats[0][0]

    # tags: 1-4, Zipf; newspaper sections usually carry their own tag
    k = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
    first = None
    if cat in CATEGORY_SOURCE and rng.random() < 0.8:
        first = cats[0][1]
    tags = pick_tags(rng, k, first)

    title = zh_title(rng) if zh else en_title(rng)
    qtitle = yaml_single(title) if ("'" in title and '"' not in title
                                    and rng.random() < 0.5) else yaml_double(title)

    slug = "-".join(rng.choice(SLUG_WORDS) for _ in range(rng.randint(1, 4)))
    num = "%0*d" % (width, idx)
    fname = "%s-%s-%s.md" % (date.strftime("%Y-%m-%d"), slug, num)

    fm = ("---\nlayout: post\ntitle: %s\ndate: %s %s\n" % (
        qtitle, date.strftime("%Y-%m-%d %H:%M:%S"), off)
        + term_field(rng, "categories", [x[0] for x in cats], 0.0)
        + term_field(rng, "tags", tags, 0.35)
        + "---\n")

    trailer = ("\n\n<http://news.example.cn/html_News/NewsShare.html?infoCode=NW%s%s>\n\n"
               "[返回%s](//news.example.com/category/%s.html)｜[返回首页](//news.example.com/)\n"
               % (date.strftime("%Y%m%d"), num, cats[0][1], cat))
    tlen = len(trailer.encode())
    # sentences are < ~250 bytes and markup adds a little; keep a safety margin
    target = rng.randint(MIN_BODY, MAX_BODY - 900) - tlen
    pool = pools[0] if zh else pools[1]
    md = rng.random() < 0.2
    body = (markdown_body if md else html_body)(rng, zh, pool, target, idx, date, cat)
    body = body + trailer
    b = body.encode()
    if len(b) > MAX_BODY:  # hard cap (rare): trim whole paragraphs/blocks
        head = body[:-len(trailer)]
        while len((head + trailer).encode()) > MAX_BODY:
            cut = max(head.rfind("\n"), head.rfind("<p>"))
            head = head[:cut] if cut > 0 else head[:len(head) // 2]
        body = head + trailer
    return fname, (fm + body).encode(), [x[0] for x in cats], tags


def prepare_dir(out, force):
    if os.path.exists(out):
        if not os.path.isdir(out):
            sys.exit("error: %s exists and is not a directory" % out)
        entries = os.listdir(out)
        if entries:
            if not force:
                sys.exit("error: %s is not empty (use --force to empty it first)" % out)
            real = os.path.realpath(out)
            cwd = os.path.realpath(os.getcwd())
            home = os.path.realpath(os.path.expanduser("~"))
            if real in ("/", home) or cwd == real or cwd.startswith(real + os.sep):
                sys.exit("error: refusing to empty %s" % real)
            for e in entries:
                p = os.path.join(out, e)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
    else:
        os.makedirs(out)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Deterministically generate a corpus of Jekyll-style posts "
                    "(feedsmith SPEC section 1 shape) for benchmarks.",
        epilog="Same --posts and --seed always give byte-identical files.")
    ap.add_argument("--posts", type=int, required=True, metavar="N",
                    help="number of posts to write")
    ap.add_argument("--out", required=True, metavar="DIR",
                    help="output directory (created; must be empty unless --force)")
    ap.add_argument("--seed", type=int, default=1, metavar="S",
                    help="random seed (default: 1)")
    ap.add_argument("--force", action="store_true",
                    help="empty DIR first if it is not empty")
    args = ap.parse_args(argv)
    if args.posts < 0:
        ap.error("--posts must be >= 0")

    t0 = time.perf_counter()
    prepare_dir(args.out, args.force)
    rng = Random(args.seed)
    pools = _build_sentence_pools(rng)
    width = max(5, len(str(max(args.posts - 1, 0))))
    total = 0
    cats, tags = set(), set()
    out = args.out
    for i in range(args.posts):
        fname, data, c, t = make_post(rng, i, args.posts, pools, width)
        with open(os.path.join(out, fname), "wb") as f:
            f.write(data)
        total += len(data)
        cats.update(c)
        tags.update(t)
    print("posts=%d bytes=%d categories=%d tags=%d seconds=%.2f" % (
        args.posts, total, len(cats), len(tags), time.perf_counter() - t0))


if __name__ == "__main__":
    main()
