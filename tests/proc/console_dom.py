#!/usr/bin/env python3
"""Checks a console page as headless Chromium rendered it (--dump-dom)
against what the hub's API answered, for tests/proc/test_console.sh.

    console_dom.py PAGE DOM APIDIR [LANG] [ARG]

PAGE is overview, stock, orders, order, approvals, customers, receivables
or sync;
DOM the dumped page; APIDIR holds the API's answers as NAME.json (fetched
by the test with curl); LANG en or zh (the labels expected); ARG the
order id (order) or the region filtered on (stock). Prints one line per
check, "ok WHAT" or "FAIL WHAT: why", and exits 0 (failures are lines).
"""
import json
import os
import re
import sys
from decimal import Decimal
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
EXPONENT = {c: 0 for c in "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI "
            "VND VUV XAF XOF XPF".split()}
EXPONENT.update({c: 3 for c in "BHD IQD JOD KWD LYD OMR TND".split()})
EXPONENT.update({"CLF": 4, "UYW": 4})
TITLES = {
    "en": {"overview": "Sales at a glance", "stock": "Stock positions",
           "orders": "Orders", "customers": "Customers",
           "approvals": "Approvals of special prices",
           "receivables": "Receivables", "sync": "Sync health",
           "nav": "Overview", "switch": "中文", "lang": "en"},
    "zh": {"overview": "销售概览", "stock": "库存状况", "orders": "订单",
           "approvals": "特价审批",
           "customers": "客户", "receivables": "应收账款", "sync": "同步状态",
           "nav": "概览", "switch": "English", "lang": "zh-CN"},
}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find(self, pred):
        return [n for n in self.walk() if pred(n)]

    def classes(self):
        return self.attrs.get("class", "").split()


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


results = []


def check(what, ok, why=""):
    results.append(("ok " + what) if ok else ("FAIL %s: %s" % (what, why)))


def eq(what, want, got):
    check(what, want == got, "expected %r, got %r" % (want, got))


def major(minor, currency):
    e = EXPONENT.get(currency, 2)
    return Decimal(minor).scaleb(-e)


def grouped(minor, currency):
    """The major-unit figure as both en and zh-CN group it: 1,234.50."""
    e = EXPONENT.get(currency, 2)
    return "{:,.{}f}".format(major(minor, currency), e)


class Page:
    def __init__(self, dom):
        t = Tree()
        t.feed(dom)
        self.root = t.root

    def id(self, ident):
        found = self.root.find(lambda n: n.attrs.get("id") == ident)
        return found[0] if found else None

    def rows(self, table_id):
        t = self.id(table_id)
        if t is None:
            return None
        body = [n for n in t.children if isinstance(n, Node)
                and n.tag == "tbody"]
        return [r for r in body[0].children if isinstance(r, Node)
                and r.tag == "tr"] if body else []

    def row(self, table_id, key):
        for r in self.rows(table_id) or []:
            if r.attrs.get("data-key") == key:
                return r
        return None


def cell(row, col):
    for c in row.children:
        if isinstance(c, Node) and c.attrs.get("data-col") == col:
            return c
    return None


def check_money(what, td, minor, currency):
    if td is None:
        check(what, False, "no cell")
        return
    eq(what + " (data-minor)", str(minor), td.attrs.get("data-minor"))
    eq(what + " (currency)", currency, td.attrs.get("data-currency"))
    text, g = td.text(), grouped(abs(minor), currency)
    check(what + " shown as " + ("-" if minor < 0 else "") + g + " " +
          currency,
          re.search(r"(?<![\d,.])" + re.escape(g) + r"(?![\d])", text)
          is not None and (minor >= 0) == ("-" not in text and
                                           "\u2212" not in text),
          "cell reads %r" % text)


def check_table_keys(page, what, table_id, keys):
    rows = page.rows(table_id)
    if rows is None:
        check(what, False, "no table #" + table_id)
        return
    eq(what, sorted(keys), sorted(r.attrs.get("data-key") for r in rows))


def check_chart(page, what, fig_id, labels, values):
    fig = page.id(fig_id)
    if fig is None:
        check(what, False, "no figure #" + fig_id)
        return
    eq(what + ": labels", labels, json.loads(fig.attrs.get("data-labels",
                                                           "null")))
    got = json.loads(fig.attrs.get("data-values", "null"))
    ok = got is not None and len(got) == len(values) and all(
        len(g) == len(v) and all(abs(Decimal(str(a)) - b) < Decimal("0.0001")
                                 for a, b in zip(g, v))
        for g, v in zip(got, values))
    check(what + ": values", ok, "expected %s, got %s" % (
        [[str(x) for x in v] for v in values], got))
    eq(what + ": painted by Chart.js", "yes", fig.attrs.get("data-painted"))


def uniq(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def series(items, labels, key):
    curs = sorted(uniq(i["currency"] for i in items))
    out = []
    for c in curs:
        v = [Decimal(0)] * len(labels)
        for i in items:
            if i["currency"] == c:
                v[labels.index(i[key])] += major(i["total"], c)
        out.append(v)
    return out


def common(page, name, lang):
    main = page.id("page")
    if main is None:
        check("the page has its main element", False, "none")
        sys.exit(0)
    eq("%s is drawn" % name, "ready", main.attrs.get("data-state"))
    if main.attrs.get("data-state") != "ready":
        check("no error", False, main.attrs.get("data-error", ""))
    eq("%s: the page drawn" % name, name if name != "order" else "orders",
       main.attrs.get("data-page"))
    html = page.root.find(lambda n: n.tag == "html")
    eq("%s: the document's language" % name, TITLES[lang]["lang"],
       html[0].attrs.get("lang") if html else None)
    nav = page.root.find(lambda n: n.attrs.get("data-route") == "overview")
    eq("%s: the navigation's label" % name, TITLES[lang]["nav"],
       nav[0].text() if nav else None)
    sw = page.id("lang-switch")
    eq("%s: the language switch offers the other" % name,
       TITLES[lang]["switch"], sw.text() if sw else None)
    if name in TITLES[lang]:
        h1 = main.find(lambda n: n.tag == "h1")
        eq("%s: the title" % name, TITLES[lang][name],
           h1[0].text() if h1 else None)


def load(apidir, name):
    with open(os.path.join(apidir, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def overview(page, api):
    today, period = api("sales_today_site")["items"], api("sales_site")["items"]
    days, skus = api("sales_day")["items"], api("sales_sku")["items"]
    alerts = api("alerts")["items"]
    for name, tid, items, key in (("today by store", "tbl-today-site", today,
                                   "site"),
                                  ("period by store", "tbl-period-site",
                                   period, "site"),
                                  ("period by day", "tbl-period-day", days,
                                   "day")):
        check_table_keys(page, name + ": a row per group",
                         tid, ["%s/%s" % (i[key], i["currency"])
                               for i in items])
        for i in items:
            r = page.row(tid, "%s/%s" % (i[key], i["currency"]))
            if r is None:
                continue
            check_money("%s: %s total" % (name, i[key]), cell(r, "total"),
                        i["total"], i["currency"])
            eq("%s: %s orders" % (name, i[key]), str(i["orders"]),
               cell(r, "orders").attrs.get("data-value"))
    labels = uniq(i["site"] for i in today)
    check_chart(page, "today's chart by store", "chart-today-site", labels,
                series(today, labels, "site"))
    labels = uniq(i["site"] for i in period)
    check_chart(page, "period chart by store", "chart-period-site", labels,
                series(period, labels, "site"))
    labels = sorted(uniq(i["day"] for i in days))
    check_chart(page, "period chart by day", "chart-period-day", labels,
                series(days, labels, "day"))
    sums = {}
    for i in period:
        sums[i["currency"]] = sums.get(i["currency"], 0) + i["total"]
    kpi = page.root.find(lambda n: n.attrs.get("data-totals") is not None
                         and n.parent.parent.attrs.get("id") == "kpi-period")
    eq("the period's total per currency", sums,
       json.loads(kpi[0].attrs["data-totals"]) if kpi else None)
    check_table_keys(page, "every open alert listed", "tbl-alerts",
                     [a["id"] for a in alerts])
    top = sorted(skus, key=lambda i: (-i["qty"], i["sku"]))
    rows = page.rows("tbl-top") or []
    eq("the top product first", "%s/%s" % (top[0]["sku"], top[0]["currency"])
       if top else None, rows[0].attrs.get("data-key") if rows else None)
    sold = {i["sku"] for i in skus}
    never = [p["sku"] for p in api("products")["items"] if p["sku"] not in sold]
    slow = [r.attrs.get("data-key") for r in page.rows("tbl-slow") or []]
    check("products that never sold are slow movers (%s)" % never,
          all(s in slow for s in never) and bool(never), "listed %s" % slow)


def stock(page, api, region):
    items = api("report_stock")["items"]
    sites = {s["site"]: s["region"] for s in api("sites")["items"]}
    names = {p["sku"]: p["name"] for p in api("products")["items"]}
    if region:
        items = [i for i in items if sites.get(i["site"]) == region]
    check_table_keys(page, "stock%s: a row per position" %
                     (" in " + region if region else ""), "tbl-stock",
                     ["%s/%s" % (i["site"], i["sku"]) for i in items])
    low = neg = 0
    for i in items:
        r = page.row("tbl-stock", "%s/%s" % (i["site"], i["sku"]))
        if r is None:
            continue
        if i["on_hand"] < 0 or i["available"] < 0:
            want, neg = "neg", neg + 1
        elif "safety_stock" in i and i["available"] < i["safety_stock"]:
            want, low = "low", low + 1
        else:
            want = ""
        eq("stock %s/%s highlighted as %s" % (i["site"], i["sku"],
                                              want or "fine"),
           want, " ".join(r.classes()))
        for col in ("on_hand", "reserved", "available"):
            eq("stock %s/%s %s" % (i["site"], i["sku"], col), str(i[col]),
               cell(r, col).attrs.get("data-value"))
        eq("stock %s/%s product name" % (i["site"], i["sku"]),
           names.get(i["sku"], ""), cell(r, "name").text())
    s = page.id("stock-summary")
    eq("stock: low and negative counted",
       (str(low), str(neg)), (s.attrs.get("data-low"),
                              s.attrs.get("data-negative")) if s else None)


def orders(page, api):
    items = api("orders")["items"]
    check_table_keys(page, "orders: a row per order", "tbl-orders",
                     [o["id"] for o in items])
    for o in items:
        r = page.row("tbl-orders", o["id"])
        if r is not None:
            for col in ("total", "paid", "balance"):
                check_money("order %s %s" % (o["id"], col), cell(r, col),
                            o[col], o["currency"])
            eq("order %s status" % o["id"], o["status"],
               cell(r, "status").text())


def order(page, api):
    o = api("order")
    payments = api("order_payments")["items"]
    cases = [c for c in api("cases")["items"] if c.get("order") == o["id"]]
    head = page.id("order-head")
    dd = {n.attrs.get("data-key"): n for n in head.find(
        lambda n: n.tag == "dd")} if head else {}
    eq("order %s: status" % o["id"], o["status"],
       dd["status"].text() if "status" in dd else None)
    for k in ("total", "paid", "balance"):
        span = dd[k].find(lambda n: n.tag == "span") if k in dd else []
        check_money("order %s: %s" % (o["id"], k), span[0] if span else None,
                    o[k], o["currency"])
    check_table_keys(page, "order %s: its lines" % o["id"], "tbl-lines",
                     [str(line["line"]) for line in o["lines"]])
    for line in o["lines"]:
        r = page.row("tbl-lines", str(line["line"]))
        if r is not None:
            check_money("order %s line %s amount" % (o["id"], line["line"]),
                        cell(r, "amount"), line["amount"], o["currency"])
            eq("order %s line %s sku" % (o["id"], line["line"]), line["sku"],
               cell(r, "sku").text())
    check_table_keys(page, "order %s: its payments" % o["id"],
                     "tbl-payments", [p["id"] for p in payments])
    for p in payments:
        r = page.row("tbl-payments", p["id"])
        if r is not None:
            check_money("payment %s" % p["id"], cell(r, "amount"),
                        p["amount"], p["currency"])
    check_table_keys(page, "order %s: its status changes" % o["id"],
                     "tbl-history", [h["status"] for h in o["history"]])
    check_table_keys(page, "order %s: its cases" % o["id"], "tbl-cases",
                     [c["id"] for c in cases])
    check("order %s has a case to show" % o["id"], bool(cases), "none")


def approvals(page, api):
    items = api("approvals")["items"]
    check_table_keys(page, "approvals: a row per approval", "tbl-approvals",
                     [a["id"] for a in items])
    check("approvals: some wait for a decision",
          any(a["status"] == "pending" for a in items), "none pending")
    for a in items:
        r = page.row("tbl-approvals", a["id"])
        if r is None:
            continue
        eq("approval %s status" % a["id"], a["status"],
           cell(r, "status").text())
        eq("approval %s reason, exactly" % a["id"], a["reason"],
           cell(r, "reason").text())
        eq("approval %s comment" % a["id"], a.get("comment", ""),
           cell(r, "comment").text())
        d = cell(r, "decide")
        buttons = d.find(lambda n: n.tag == "button") if d else []
        eq("approval %s: approve and reject buttons while pending" % a["id"],
           [a["id"], a["id"]] if a["status"] == "pending" else [],
           [b.attrs.get("data-approve", b.attrs.get("data-reject"))
            for b in buttons])


def customers(page, api):
    items = api("customers")["items"]
    check_table_keys(page, "customers: a row per customer", "tbl-customers",
                     [c["id"] for c in items])
    for c in items:
        r = page.row("tbl-customers", c["id"])
        if r is not None:
            eq("customer %s's name, exactly" % c["id"], c["name"],
               cell(r, "name").text())
            eq("customer %s's points" % c["id"], str(c["points"]),
               cell(r, "points").attrs.get("data-value"))


def receivables(page, api):
    r = api("receivables")
    buckets = ["0-30", "31-60", "61-90", "90+"]
    curs = sorted(r["totals"])
    check_chart(page, "aging chart", "chart-aging", buckets,
                [[major(r["totals"][c][b], c) for b in buckets]
                 for c in curs])
    for c in curs:
        for b in buckets:
            row = page.row("tbl-aging", "%s/%s" % (c, b))
            check_money("aging %s %s" % (c, b),
                        cell(row, "total") if row is not None else None,
                        r["totals"][c][b], c)
    check_table_keys(page, "receivables: a row per invoice",
                     "tbl-receivables", [i["invoice"] for i in r["items"]])
    for i in r["items"]:
        row = page.row("tbl-receivables", i["invoice"])
        if row is not None:
            check_money("invoice %s" % i["invoice"], cell(row, "amount"),
                        i["amount"], i["currency"])
            eq("invoice %s overdue highlighted" % i["invoice"],
               "overdue" if i["overdue"] else "", " ".join(row.classes()))


def sync(page, api):
    items = api("sites_sync")["items"]
    check_table_keys(page, "sync: a row per site", "tbl-sites",
                     [s["site"] for s in items])
    for s in items:
        r = page.row("tbl-sites", s["site"])
        if r is None:
            continue
        eq("site %s link" % s["site"], s["link"],
           cell(r, "link").attrs.get("data-link"))
        eq("site %s ops held" % s["site"], str(s["ops_held"]),
           cell(r, "ops_held").attrs.get("data-value"))
        eq("site %s quarantined" % s["site"], str(s["quarantined"]),
           cell(r, "quarantined").attrs.get("data-value"))
        eq("site %s stands out when silent" % s["site"],
           "silent" if s["silent"] else "", " ".join(r.classes()))
    silent = [s["site"] for s in items if s["silent"]]
    banner = page.id("silent-banner")
    eq("the silent sites named above the table", " ".join(silent),
       banner.attrs.get("data-sites") if banner else "")
    rows = page.rows("tbl-sites") or []
    eq("silent sites listed first", silent,
       [r.attrs.get("data-key") for r in rows[:len(silent)]])


def main():
    name, dom_path, apidir = sys.argv[1:4]
    lang = sys.argv[4] if len(sys.argv) > 4 else "en"
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    with open(dom_path, encoding="utf-8") as f:
        page = Page(f.read())
    common(page, name, lang)
    api = lambda n: load(apidir, n)  # noqa: E731
    {"overview": lambda: overview(page, api),
     "stock": lambda: stock(page, api, arg),
     "orders": lambda: orders(page, api),
     "order": lambda: order(page, api),
     "approvals": lambda: approvals(page, api),
     "customers": lambda: customers(page, api),
     "receivables": lambda: receivables(page, api),
     "sync": lambda: sync(page, api)}[name]()
    print("\n".join(results))


if __name__ == "__main__":
    main()
