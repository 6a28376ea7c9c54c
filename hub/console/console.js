/*
 * Branchline head office console (served by bl-hub, hub/console.c).
 *
 * Reads only the hub's JSON API (/v1/...), the resources integrations use,
 * and draws seven pages: overview, stock, orders, approvals (of special
 * prices, which a manager decides there), customers, receivables and sync
 * health. Every figure is put in the page as text (never as HTML);
 * money arrives as integers in minor units with an ISO 4217 currency and
 * is shown in major units (the cell keeps the integer in data-minor). A
 * chart is Chart.js (Debian's libjs-chart.js, /console/chart.js); its
 * figure carries the labels and values it was given (data-labels,
 * data-values) and whether it painted, and its table stands beside it.
 *
 * The page refreshes itself every REFRESH_MS. Labels are English or
 * Simplified Chinese: the browser's language chooses, ?lang=en|zh (the
 * switch in the header) overrides and is remembered.
 *
 * Where the hub asks for a login (its API needs a token) the console shows
 * a login form; the session is an HttpOnly cookie, and every write sends
 * the session's CSRF token in X-CSRF-Token.
 */
(function () {
	'use strict';

	var REFRESH_MS = 30000;

	var I18N = {
		en: {
			'nav.overview': 'Overview',
			'nav.stock': 'Stock',
			'nav.orders': 'Orders',
			'nav.customers': 'Customers',
			'nav.receivables': 'Receivables',
			'nav.sync': 'Sync health',
			logout: 'Log out',
			'login.title': 'Head office log in',
			'login.user': 'User name',
			'login.password': 'Password',
			'login.submit': 'Log in',
			'lang.other': '中文',
			updated: 'Updated',
			loading: 'Loading…',
			failed: 'Could not load',
			none: 'Nothing to show',
			'charts.missing': 'Charts need Chart.js (libjs-chart.js) on the hub: shown as tables.',
			'ov.title': 'Sales at a glance',
			'ov.from': 'From',
			'ov.to': 'To',
			'ov.today': 'Today (UTC)',
			'ov.period': 'Period',
			'ov.alerts': 'Open alerts',
			'ov.todayBySite': 'Today by store',
			'ov.periodBySite': 'Period by store',
			'ov.periodByDay': 'Period by day',
			'ov.top': 'Top products',
			'ov.slow': 'Slow-moving products',
			'ov.alertList': 'Open alerts',
			'st.title': 'Stock positions',
			'st.region': 'Region',
			'st.sku': 'SKU or name',
			'st.all': 'All',
			'st.low': 'low',
			'st.negative': 'negative',
			'st.summary': '{low} low, {neg} negative of {n} positions',
			'st.save': 'Set',
			'st.saved': 'Safety stock saved',
			'or.title': 'Orders',
			'or.status': 'Status',
			'or.site': 'Site',
			'or.customer': 'Customer',
			'or.search': 'Order id',
			'or.find': 'Show',
			'or.lines': 'Lines',
			'or.payments': 'Payments',
			'or.history': 'Status changes',
			'or.cases': 'After-sales cases',
			'or.back': 'All orders',
			'nav.approvals': 'Approvals',
			'ap.title': 'Approvals of special prices',
			'ap.status': 'Status',
			'ap.all': 'All',
			'ap.reason': 'Why',
			'ap.comment': 'Comment',
			'ap.decided': 'Decided',
			'ap.decide': 'Decision',
			'ap.approve': 'Approve',
			'ap.reject': 'Reject',
			'ap.needComment': 'A rejection says why: write a comment.',
			'cu.title': 'Customers',
			'cu.search': 'Name, phone or e-mail',
			'cu.orders': 'Orders',
			'cu.back': 'All customers',
			're.title': 'Receivables',
			're.aging': 'Aging',
			're.totals': 'Totals by bucket',
			're.open': 'Open invoices',
			'sy.title': 'Sync health',
			'sy.hub': 'Head office hub',
			'sy.sites': 'Sites',
			'sy.silent': 'Silent: {list}',
			'sy.streaming': 'streaming',
			'sy.atMost': '≤ {n}',
			'link.up': 'connected',
			'link.down': 'not connected',
			'link.never': 'never connected',
			'link.revoked': 'revoked',
			'link.self': 'head office',
			'link.unknown': 'unknown',
			yes: 'yes',
			no: 'no',
			'col.site': 'Site',
			'col.name': 'Name',
			'col.region': 'Region',
			'col.role': 'Role',
			'col.sku': 'SKU',
			'col.product': 'Product',
			'col.currency': 'Currency',
			'col.orders': 'Orders',
			'col.qty': 'Qty',
			'col.total': 'Total',
			'col.day': 'Day',
			'col.onHand': 'On hand',
			'col.reserved': 'Reserved',
			'col.available': 'Available',
			'col.safety': 'Safety stock',
			'col.sold': 'Sold',
			'col.kind': 'Kind',
			'col.subject': 'Subject',
			'col.message': 'Message',
			'col.at': 'When',
			'col.id': 'Id',
			'col.channel': 'Channel',
			'col.customer': 'Customer',
			'col.status': 'Status',
			'col.paid': 'Paid',
			'col.balance': 'Balance',
			'col.created': 'Created',
			'col.fulfil': 'Fulfilled by',
			'col.line': 'Line',
			'col.unitPrice': 'Unit price',
			'col.amount': 'Amount',
			'col.method': 'Method',
			'col.description': 'Description',
			'col.phone': 'Phone',
			'col.email': 'E-mail',
			'col.tier': 'Tier',
			'col.points': 'Points',
			'col.creditLimit': 'Credit limit',
			'col.tags': 'Tags',
			'col.invoice': 'Invoice',
			'col.order': 'Order',
			'col.age': 'Age (days)',
			'col.bucket': 'Bucket',
			'col.overdue': 'Overdue',
			'col.link': 'Link',
			'col.lastContact': 'Last contact',
			'col.lastPush': 'Last push',
			'col.opsHeld': 'Ops held',
			'col.waiting': 'Ops waiting',
			'col.quarantined': 'Quarantined',
			'col.conflicts': 'Conflicts',
			'col.clock': 'Clock offset',
			'col.disk': 'Disk',
			'hub.sessions': 'Sites connected',
			'hub.received': 'Ops received',
			'hub.sent': 'Ops sent',
			'hub.quarantined': 'Quarantined at the hub',
			'hub.recovering': 'Recovering from a backup',
		},
		zh: {
			'nav.overview': '概览',
			'nav.stock': '库存',
			'nav.orders': '订单',
			'nav.customers': '客户',
			'nav.receivables': '应收账款',
			'nav.sync': '同步状态',
			logout: '退出登录',
			'login.title': '总部登录',
			'login.user': '用户名',
			'login.password': '密码',
			'login.submit': '登录',
			'lang.other': 'English',
			updated: '更新于',
			loading: '加载中…',
			failed: '无法加载',
			none: '暂无数据',
			'charts.missing': '图表需要总部服务器安装 Chart.js（libjs-chart.js），现以表格显示。',
			'ov.title': '销售概览',
			'ov.from': '起始日期',
			'ov.to': '截止日期',
			'ov.today': '今日（UTC）',
			'ov.period': '本期',
			'ov.alerts': '未处理警报',
			'ov.todayBySite': '今日各门店销售',
			'ov.periodBySite': '本期各门店销售',
			'ov.periodByDay': '本期每日销售',
			'ov.top': '畅销商品',
			'ov.slow': '滞销商品',
			'ov.alertList': '未处理警报',
			'st.title': '库存状况',
			'st.region': '区域',
			'st.sku': 'SKU 或名称',
			'st.all': '全部',
			'st.low': '偏低',
			'st.negative': '负库存',
			'st.summary': '共 {n} 条库存，{low} 条偏低，{neg} 条为负',
			'st.save': '设置',
			'st.saved': '安全库存已保存',
			'or.title': '订单',
			'or.status': '状态',
			'or.site': '门店',
			'or.customer': '客户',
			'or.search': '订单号',
			'or.find': '查看',
			'or.lines': '订单行',
			'or.payments': '付款',
			'or.history': '状态变更',
			'or.cases': '售后工单',
			'or.back': '全部订单',
			'nav.approvals': '审批',
			'ap.title': '特价审批',
			'ap.status': '状态',
			'ap.all': '全部',
			'ap.reason': '原因',
			'ap.comment': '备注',
			'ap.decided': '决定时间',
			'ap.decide': '决定',
			'ap.approve': '批准',
			'ap.reject': '驳回',
			'ap.needComment': '驳回须说明原因：请填写备注。',
			'cu.title': '客户',
			'cu.search': '姓名、电话或邮箱',
			'cu.orders': '订单',
			'cu.back': '全部客户',
			're.title': '应收账款',
			're.aging': '账龄',
			're.totals': '各账龄段合计',
			're.open': '未结发票',
			'sy.title': '同步状态',
			'sy.hub': '总部服务器',
			'sy.sites': '站点',
			'sy.silent': '失联站点：{list}',
			'sy.streaming': '同步中',
			'sy.atMost': '≤ {n}',
			'link.up': '已连接',
			'link.down': '未连接',
			'link.never': '从未连接',
			'link.revoked': '已吊销',
			'link.self': '总部',
			'link.unknown': '未知',
			yes: '是',
			no: '否',
			'col.site': '站点',
			'col.name': '名称',
			'col.region': '区域',
			'col.role': '角色',
			'col.sku': 'SKU',
			'col.product': '商品',
			'col.currency': '币种',
			'col.orders': '订单数',
			'col.qty': '数量',
			'col.total': '金额',
			'col.day': '日期',
			'col.onHand': '在库',
			'col.reserved': '已预留',
			'col.available': '可用',
			'col.safety': '安全库存',
			'col.sold': '售出',
			'col.kind': '类型',
			'col.subject': '对象',
			'col.message': '说明',
			'col.at': '时间',
			'col.id': '编号',
			'col.channel': '渠道',
			'col.customer': '客户',
			'col.status': '状态',
			'col.paid': '已付',
			'col.balance': '余额',
			'col.created': '创建时间',
			'col.fulfil': '履约站点',
			'col.line': '行',
			'col.unitPrice': '单价',
			'col.amount': '金额',
			'col.method': '方式',
			'col.description': '描述',
			'col.phone': '电话',
			'col.email': '邮箱',
			'col.tier': '等级',
			'col.points': '积分',
			'col.creditLimit': '信用额度',
			'col.tags': '标签',
			'col.invoice': '发票',
			'col.order': '订单',
			'col.age': '账龄（天）',
			'col.bucket': '账龄段',
			'col.overdue': '逾期',
			'col.link': '连接',
			'col.lastContact': '最近联系',
			'col.lastPush': '最近上传',
			'col.opsHeld': '已收操作',
			'col.waiting': '待同步操作',
			'col.quarantined': '隔离操作',
			'col.conflicts': '冲突',
			'col.clock': '时钟偏差',
			'col.disk': '磁盘',
			'hub.sessions': '已连接站点',
			'hub.received': '已接收操作',
			'hub.sent': '已发送操作',
			'hub.quarantined': '总部隔离操作',
			'hub.recovering': '正在从备份恢复',
		},
	};

	/* ISO 4217 digits of the minor unit, as bl-hub report uses them. */
	var EXPONENT = {
		BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0,
		PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0,
		XPF: 0, BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
		CLF: 4, UYW: 4,
	};

	var lang = 'en';
	var session = { login: false, user: null, role: 'manager', csrf: '' };
	var current = null; /* the route drawn last */

	/* ---- language ---- */

	function chooseLang() {
		var params = new URLSearchParams(location.search);
		var asked = params.get('lang');
		var saved = null;

		try {
			if (asked === 'en' || asked === 'zh')
				localStorage.setItem('bl.lang', asked);
			saved = localStorage.getItem('bl.lang');
		} catch (e) {
			saved = asked;
		}
		if (asked === 'en' || asked === 'zh')
			saved = asked;
		if (saved === 'en' || saved === 'zh')
			return saved;
		var langs = navigator.languages || [navigator.language || 'en'];
		for (var i = 0; i < langs.length; i++) {
			var l = String(langs[i]).toLowerCase();
			if (l.indexOf('zh') === 0)
				return 'zh';
			if (l.indexOf('en') === 0)
				return 'en';
		}
		return 'en';
	}

	function locale() {
		return lang === 'zh' ? 'zh-CN' : 'en';
	}

	function t(key, vars) {
		var s = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
		if (vars)
			Object.keys(vars).forEach(function (k) {
				s = s.split('{' + k + '}').join(String(vars[k]));
			});
		return s;
	}

	function applyStaticLabels() {
		document.documentElement.lang = locale();
		document.documentElement.setAttribute('data-lang', lang);
		document.querySelectorAll('[data-i18n]').forEach(function (e) {
			e.textContent = t(e.getAttribute('data-i18n'));
		});
		var sw = document.getElementById('lang-switch');
		var other = lang === 'zh' ? 'en' : 'zh';
		sw.textContent = t('lang.other');
		sw.setAttribute('href', '?lang=' + other + location.hash);
		sw.setAttribute('hreflang', other === 'zh' ? 'zh-CN' : 'en');
		sw.setAttribute('lang', other === 'zh' ? 'zh-CN' : 'en');
		sw.setAttribute('data-lang', other);
	}

	/* ---- formatting ---- */

	function exponent(currency) {
		return Object.prototype.hasOwnProperty.call(EXPONENT, currency)
		    ? EXPONENT[currency] : 2;
	}

	/* Minor units (an integer) as a decimal string of major units. */
	function major(minor, currency) {
		var e = exponent(currency);
		var neg = minor < 0;
		var digits = String(Math.abs(minor));
		if (e === 0)
			return (neg ? '-' : '') + digits;
		while (digits.length <= e)
			digits = '0' + digits;
		return (neg ? '-' : '') + digits.slice(0, digits.length - e) +
		    '.' + digits.slice(digits.length - e);
	}

	function money(minor, currency) {
		var e = exponent(currency);
		try {
			return new Intl.NumberFormat(locale(), {
				style: 'currency', currency: currency,
				minimumFractionDigits: e, maximumFractionDigits: e,
			}).format(major(minor, currency));
		} catch (err) {
			return major(minor, currency) + ' ' + currency;
		}
	}

	function number(n) {
		return new Intl.NumberFormat(locale()).format(n);
	}

	function when(ms) {
		if (ms === null || ms === undefined)
			return '—';
		return new Intl.DateTimeFormat(locale(), {
			year: 'numeric', month: '2-digit', day: '2-digit',
			hour: '2-digit', minute: '2-digit', hour12: false,
		}).format(new Date(ms));
	}

	function ago(ms, now) {
		if (ms === null || ms === undefined)
			return '—';
		var s = Math.round((now - ms) / 1000);
		var rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
		if (Math.abs(s) < 60)
			return rtf.format(-s, 'second');
		if (Math.abs(s) < 3600)
			return rtf.format(-Math.round(s / 60), 'minute');
		if (Math.abs(s) < 86400)
			return rtf.format(-Math.round(s / 3600), 'hour');
		return rtf.format(-Math.round(s / 86400), 'day');
	}

	function duration(ms) {
		var sign = ms < 0 ? '−' : '+';
		var a = Math.abs(ms);
		if (a < 1000)
			return sign + a + ' ms';
		if (a < 60000)
			return sign + (a / 1000).toFixed(1) + ' s';
		if (a < 3600000)
			return sign + Math.round(a / 60000) + ' min';
		return sign + (a / 3600000).toFixed(1) + ' h';
	}

	function utcDay(d) {
		return d.toISOString().slice(0, 10);
	}

	/* ---- the DOM, as text only ---- */

	function el(tag, attrs) {
		var e = document.createElement(tag);
		var i, c;
		if (attrs)
			Object.keys(attrs).forEach(function (k) {
				var v = attrs[k];
				if (v === null || v === undefined || v === false)
					return;
				if (k === 'text')
					e.textContent = String(v);
				else if (k === 'className')
					e.className = v;
				else if (k.indexOf('on') === 0)
					e.addEventListener(k.slice(2), v);
				else
					e.setAttribute(k, v === true ? '' : String(v));
			});
		for (i = 2; i < arguments.length; i++) {
			c = arguments[i];
			if (c === null || c === undefined)
				continue;
			e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
		}
		return e;
	}

	function link(text, hash) {
		return el('a', { href: hash, text: text });
	}

	/*
	 * A table: cols are {key, label, kind?, get?(row), cell?(row, td)};
	 * kind 'num' right-aligns, 'money' shows row[key] of row.currency.
	 * Each row is a tr with data-key = keyOf(row), each cell a td with
	 * data-col = the column's key.
	 */
	function table(id, cols, rows, keyOf, rowClass) {
		var head = el('tr');
		cols.forEach(function (c) {
			head.appendChild(el('th', {
				className: c.kind === 'num' || c.kind === 'money' ? 'num' : '',
				text: t(c.label),
			}));
		});
		var body = el('tbody');
		rows.forEach(function (r) {
			var tr = el('tr', { 'data-key': keyOf ? keyOf(r) : null });
			var cls = rowClass ? rowClass(r) : '';
			if (cls)
				tr.className = cls;
			cols.forEach(function (c) {
				var td = el('td', { 'data-col': c.key });
				var v = c.get ? c.get(r) : r[c.key];
				if (c.kind === 'num' || c.kind === 'money')
					td.className = 'num';
				if (c.wrap)
					td.className += ' wrap';
				if (c.cell) {
					c.cell(r, td);
				} else if (c.kind === 'money') {
					var cur = c.currency ? c.currency(r) : r.currency;
					if (v !== null && v !== undefined) {
						td.setAttribute('data-minor', String(v));
						td.setAttribute('data-currency', cur);
						td.textContent = money(v, cur);
					}
				} else if (c.kind === 'num') {
					if (v !== null && v !== undefined) {
						td.setAttribute('data-value', String(v));
						td.textContent = number(v);
					}
				} else if (v !== null && v !== undefined) {
					td.textContent = Array.isArray(v) ? v.join(', ') : String(v);
				}
				tr.appendChild(td);
			});
			body.appendChild(tr);
		});
		var tbl = el('table', { id: id, className: 'grid', 'data-rows': rows.length },
		    el('thead', null, head), body);
		var box = el('div', { className: 'scroll' }, tbl);
		if (rows.length === 0)
			box.appendChild(el('p', { className: 'muted', text: t('none') }));
		return box;
	}

	function card(title) {
		var c = el('section', { className: 'card' });
		if (title)
			c.appendChild(el('h2', { text: title }));
		for (var i = 1; i < arguments.length; i++)
			if (arguments[i])
				c.appendChild(arguments[i]);
		return c;
	}

	function facts(id, pairs) {
		var dl = el('dl', { id: id, className: 'facts' });
		pairs.forEach(function (p) {
			dl.appendChild(el('dt', { text: t(p[0]) }));
			var dd = el('dd', { 'data-key': p[2] || p[0] });
			if (p[1] instanceof Node)
				dd.appendChild(p[1]);
			else
				dd.textContent = p[1] === null || p[1] === undefined ? '—' : String(p[1]);
			dl.appendChild(dd);
		});
		return dl;
	}

	var charts = [];

	/*
	 * A chart: labels and datasets [{label, data}] of numbers. Drawn by
	 * Chart.js once the figure is in the page (drawCharts); without
	 * Chart.js the figure says so and the table beside it stands alone.
	 */
	function chart(id, type, labels, datasets) {
		var fig = el('figure', {
			id: id, className: 'chart',
			'data-labels': JSON.stringify(labels),
			'data-values': JSON.stringify(datasets.map(function (d) { return d.data; })),
			'data-series': JSON.stringify(datasets.map(function (d) { return d.label; })),
			'data-painted': 'no',
		}, el('canvas', { role: 'img', 'aria-label': id }));
		charts.push({ fig: fig, type: type, labels: labels, datasets: datasets });
		return fig;
	}

	var PALETTE = ['#1f6feb', '#d4a72c', '#2da44e', '#cf222e', '#8250df', '#bf3989'];

	function drawCharts() {
		var pending = charts;
		charts = [];
		var note = document.getElementById('chart-note');
		note.textContent = typeof window.Chart === 'function' ? '' : t('charts.missing');
		if (typeof window.Chart !== 'function')
			return;
		pending.forEach(function (c) {
			var canvas = c.fig.querySelector('canvas');
			var ch = new window.Chart(canvas, {
				type: c.type,
				data: {
					labels: c.labels,
					datasets: c.datasets.map(function (d, i) {
						return {
							label: d.label, data: d.data,
							backgroundColor: PALETTE[i % PALETTE.length],
							borderColor: PALETTE[i % PALETTE.length],
							fill: false, tension: 0.2,
						};
					}),
				},
				options: {
					animation: false, responsive: true,
					maintainAspectRatio: false,
					plugins: { legend: { display: c.datasets.length > 1 } },
					scales: { y: { beginAtZero: true } },
				},
			});
			/* What Chart.js holds, and whether the canvas has ink. */
			c.fig.setAttribute('data-labels', JSON.stringify(ch.data.labels));
			c.fig.setAttribute('data-values', JSON.stringify(ch.data.datasets.map(function (d) { return d.data; })));
			c.fig.setAttribute('data-painted', painted(canvas) ? 'yes' : 'no');
		});
	}

	function painted(canvas) {
		try {
			var ctx = canvas.getContext('2d');
			if (!canvas.width || !canvas.height)
				return false;
			var px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
			for (var i = 3; i < px.length; i += 4)
				if (px[i] !== 0)
					return true;
		} catch (e) {
			return false;
		}
		return false;
	}

	/* Per-currency series of rows [{key, currency, value}] over labels. */
	function series(rows, labels, keyField, valueField) {
		var byCur = {};
		rows.forEach(function (r) {
			var cur = r.currency;
			if (!byCur[cur])
				byCur[cur] = labels.map(function () { return 0; });
			var i = labels.indexOf(r[keyField]);
			if (i >= 0)
				byCur[cur][i] += Number(major(r[valueField], cur));
		});
		return Object.keys(byCur).sort().map(function (cur) {
			return { label: cur, data: byCur[cur] };
		});
	}

	function uniq(list) {
		var seen = {};
		return list.filter(function (x) {
			if (seen[x])
				return false;
			seen[x] = true;
			return true;
		});
	}

	/* Totals per currency, one line each. */
	function totals(rows, field) {
		var by = {};
		rows.forEach(function (r) {
			by[r.currency] = (by[r.currency] || 0) + r[field];
		});
		var keys = Object.keys(by).sort();
		var span = el('span', { 'data-totals': JSON.stringify(by) });
		keys.forEach(function (c) {
			span.appendChild(el('span', { 'data-currency': c, 'data-minor': by[c], text: money(by[c], c) }));
		});
		if (!keys.length)
			span.textContent = '—';
		return span;
	}

	/* ---- the API ---- */

	function LoginNeeded(msg) {
		this.message = msg;
	}

	function api(method, path, body) {
		var headers = { Accept: 'application/json' };
		var opts = { method: method, headers: headers, credentials: 'same-origin' };
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			opts.body = JSON.stringify(body);
		}
		if (method !== 'GET' && session.csrf)
			headers['X-CSRF-Token'] = session.csrf;
		return fetch(path, opts).then(function (res) {
			return res.json().catch(function () { return {}; }).then(function (j) {
				if (res.status === 401)
					throw new LoginNeeded(j.error ? j.error.message : '');
				if (!res.ok)
					throw new Error(path + ': ' + (j.error ? j.error.message : res.status));
				return j;
			});
		});
	}

	function get(path, query) {
		var q = query ? Object.keys(query).filter(function (k) {
			return query[k] !== undefined && query[k] !== null && query[k] !== '';
		}).map(function (k) {
			return encodeURIComponent(k) + '=' + encodeURIComponent(query[k]);
		}).join('&') : '';
		return api('GET', path + (q ? '?' + q : ''));
	}

	/* ---- routes ---- */

	function parseRoute() {
		var h = location.hash.replace(/^#\/?/, '');
		var qi = h.indexOf('?');
		var path = qi >= 0 ? h.slice(0, qi) : h;
		var params = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
		var parts = path.split('/').filter(Boolean).map(decodeURIComponent);
		return { page: parts[0] || 'overview', id: parts[1] || null, params: params };
	}

	function go(page, id, params) {
		var q = params ? params.toString() : '';
		location.hash = '#/' + page + (id ? '/' + encodeURIComponent(id) : '') + (q ? '?' + q : '');
	}

	/* ---- overview ---- */

	function pageOverview(route) {
		var now = new Date();
		var today = utcDay(now);
		var from = route.params.get('from') || utcDay(new Date(now.getTime() - 29 * 86400000));
		var to = route.params.get('to') || today;
		return Promise.all([
			get('/v1/reports/sales', { group: 'site', from: today, to: today }),
			get('/v1/reports/sales', { group: 'site', from: from, to: to }),
			get('/v1/reports/sales', { group: 'day', from: from, to: to }),
			get('/v1/reports/sales', { group: 'sku', from: from, to: to }),
			get('/v1/products'),
			get('/v1/stock'),
			get('/v1/alerts'),
		]).then(function (r) {
			var todaySite = r[0].items, periodSite = r[1].items;
			var periodDay = r[2].items, periodSku = r[3].items;
			var products = r[4].items, stock = r[5].items, alerts = r[6].items;
			var names = {};
			products.forEach(function (p) { names[p.sku] = p.name; });

			var filters = el('form', { className: 'filters', id: 'period' },
			    el('label', null, t('ov.from'), el('input', { type: 'date', id: 'f-from', value: from })),
			    el('label', null, t('ov.to'), el('input', { type: 'date', id: 'f-to', value: to })));
			filters.addEventListener('change', function () {
				var p = new URLSearchParams();
				p.set('from', document.getElementById('f-from').value);
				p.set('to', document.getElementById('f-to').value);
				go('overview', null, p);
			});

			var kpis = el('div', { className: 'kpis' },
			    el('div', { className: 'kpi', id: 'kpi-today' }, el('div', { className: 'label', text: t('ov.today') }),
				el('div', { className: 'value' }, totals(todaySite, 'total'))),
			    el('div', { className: 'kpi', id: 'kpi-period' }, el('div', { className: 'label', text: t('ov.period') + ' ' + from + ' – ' + to }),
				el('div', { className: 'value' }, totals(periodSite, 'total'))),
			    el('div', { className: 'kpi', id: 'kpi-alerts' }, el('div', { className: 'label', text: t('ov.alerts') }),
				el('div', { className: 'value', 'data-value': alerts.length, text: number(alerts.length) })));

			var siteCols = [
				{ key: 'site', label: 'col.site' },
				{ key: 'currency', label: 'col.currency' },
				{ key: 'orders', label: 'col.orders', kind: 'num' },
				{ key: 'qty', label: 'col.qty', kind: 'num' },
				{ key: 'total', label: 'col.total', kind: 'money' },
			];
			var key = function (f) { return function (x) { return x[f] + '/' + x.currency; }; };
			var todayLabels = uniq(todaySite.map(function (x) { return x.site; }));
			var siteLabels = uniq(periodSite.map(function (x) { return x.site; }));
			var dayLabels = uniq(periodDay.map(function (x) { return x.day; })).sort();

			var top = periodSku.slice().sort(function (a, b) {
				return b.qty - a.qty || (a.sku < b.sku ? -1 : 1);
			}).slice(0, 10);
			var sold = {}, onHand = {};
			periodSku.forEach(function (x) { sold[x.sku] = (sold[x.sku] || 0) + x.qty; });
			stock.forEach(function (x) { onHand[x.sku] = (onHand[x.sku] || 0) + x.on_hand; });
			var slow = products.filter(function (p) { return p.active !== false; }).map(function (p) {
				return { sku: p.sku, name: p.name, sold: sold[p.sku] || 0, on_hand: onHand[p.sku] || 0 };
			}).sort(function (a, b) {
				return a.sold - b.sold || b.on_hand - a.on_hand || (a.sku < b.sku ? -1 : 1);
			}).slice(0, 10);

			return [
			    el('h1', { text: t('ov.title') }), filters, kpis,
			    el('div', { className: 'cards' },
				card(t('ov.todayBySite'),
				    chart('chart-today-site', 'bar', todayLabels, series(todaySite, todayLabels, 'site', 'total')),
				    table('tbl-today-site', siteCols, todaySite, key('site'))),
				card(t('ov.periodBySite'),
				    chart('chart-period-site', 'bar', siteLabels, series(periodSite, siteLabels, 'site', 'total')),
				    table('tbl-period-site', siteCols, periodSite, key('site'))),
				card(t('ov.periodByDay'),
				    chart('chart-period-day', 'line', dayLabels, series(periodDay, dayLabels, 'day', 'total')),
				    table('tbl-period-day', [
					{ key: 'day', label: 'col.day' },
					{ key: 'currency', label: 'col.currency' },
					{ key: 'orders', label: 'col.orders', kind: 'num' },
					{ key: 'total', label: 'col.total', kind: 'money' },
				    ], periodDay, key('day'))),
				card(t('ov.top'), table('tbl-top', [
					{ key: 'sku', label: 'col.sku' },
					{ key: 'name', label: 'col.product', get: function (x) { return names[x.sku]; } },
					{ key: 'qty', label: 'col.qty', kind: 'num' },
					{ key: 'total', label: 'col.total', kind: 'money' },
				    ], top, key('sku'))),
				card(t('ov.slow'), table('tbl-slow', [
					{ key: 'sku', label: 'col.sku' },
					{ key: 'name', label: 'col.product' },
					{ key: 'sold', label: 'col.sold', kind: 'num' },
					{ key: 'on_hand', label: 'col.onHand', kind: 'num' },
				    ], slow, function (x) { return x.sku; })),
				card(t('ov.alertList'), alertTable(alerts))),
			];
		});
	}

	function alertTable(alerts) {
		return table('tbl-alerts', [
			{ key: 'at', label: 'col.at', get: function (a) { return when(a.at); } },
			{ key: 'kind', label: 'col.kind' },
			{ key: 'site', label: 'col.site' },
			{ key: 'subject', label: 'col.subject' },
			{ key: 'message', label: 'col.message', wrap: true },
		], alerts, function (a) { return a.id; });
	}

	/* ---- stock ---- */

	function pageStock(route) {
		return Promise.all([get('/v1/reports/stock'), get('/v1/sites'), get('/v1/products')]).then(function (r) {
			var rows = r[0].items, sites = r[1].items, products = r[2].items;
			var region = {}, names = {};
			sites.forEach(function (s) { region[s.site] = s.region; });
			products.forEach(function (p) { names[p.sku] = p.name; });
			var wantRegion = route.params.get('region') || '';
			var wantSku = (route.params.get('sku') || '').toLowerCase();
			rows.forEach(function (x) {
				x.region = region[x.site] || '';
				x.name = names[x.sku] || '';
				x.state = x.on_hand < 0 || x.available < 0 ? 'negative'
				    : x.safety_stock !== undefined && x.available < x.safety_stock ? 'low' : 'ok';
			});
			var shown = rows.filter(function (x) {
				return (!wantRegion || x.region === wantRegion) &&
				    (!wantSku || x.sku.toLowerCase().indexOf(wantSku) >= 0 ||
					x.name.toLowerCase().indexOf(wantSku) >= 0);
			});
			var regions = uniq(sites.map(function (s) { return s.region; })).sort();
			var sel = el('select', { id: 'f-region' }, el('option', { value: '', text: t('st.all') }));
			regions.forEach(function (g) {
				sel.appendChild(el('option', { value: g, text: g, selected: g === wantRegion }));
			});
			var sku = el('input', { id: 'f-sku', type: 'search', value: route.params.get('sku') || '' });
			var form = el('form', { className: 'filters', id: 'stock-filters' },
			    el('label', null, t('st.region'), sel), el('label', null, t('st.sku'), sku));
			var apply = function (ev) {
				if (ev)
					ev.preventDefault();
				var p = new URLSearchParams();
				if (sel.value)
					p.set('region', sel.value);
				if (sku.value)
					p.set('sku', sku.value);
				go('stock', null, p);
			};
			form.addEventListener('change', apply);
			form.addEventListener('submit', apply);
			var low = shown.filter(function (x) { return x.state === 'low'; }).length;
			var neg = shown.filter(function (x) { return x.state === 'negative'; }).length;
			var cols = [
				{ key: 'site', label: 'col.site' },
				{ key: 'region', label: 'col.region' },
				{ key: 'sku', label: 'col.sku' },
				{ key: 'name', label: 'col.product' },
				{ key: 'on_hand', label: 'col.onHand', kind: 'num' },
				{ key: 'reserved', label: 'col.reserved', kind: 'num' },
				{ key: 'available', label: 'col.available', kind: 'num' },
				{ key: 'safety_stock', label: 'col.safety', kind: 'num' },
			];
			if (session.role === 'manager')
				cols.push({ key: 'set', label: 'st.save', cell: safetyCell });
			return [
			    el('h1', { text: t('st.title') }), form,
			    el('p', { id: 'stock-summary', 'data-low': low, 'data-negative': neg,
				text: t('st.summary', { low: low, neg: neg, n: shown.length }) }),
			    card(null, table('tbl-stock', cols, shown, function (x) { return x.site + '/' + x.sku; },
				function (x) { return x.state === 'ok' ? '' : x.state === 'low' ? 'low' : 'neg'; })),
			];
		});
	}

	/* A manager sets safety stock: PUT /v1/safety-stock/{site}/{sku}. */
	function safetyCell(x, td) {
		var input = el('input', { type: 'number', min: '0', step: '1', value: x.safety_stock !== undefined ? x.safety_stock : '', 'aria-label': t('col.safety'), size: 5 });
		var button = el('button', { type: 'button', text: t('st.save') });
		button.addEventListener('click', function () {
			api('PUT', '/v1/safety-stock/' + encodeURIComponent(x.site) + '/' + encodeURIComponent(x.sku),
			    { qty: Number(input.value) }).then(function () {
				button.textContent = '✓';
				refresh();
			}).catch(showError);
		});
		td.appendChild(input);
		td.appendChild(button);
	}

	/* ---- orders ---- */

	var STATUSES = ['draft', 'pending_approval', 'confirmed', 'allocated', 'picked', 'cancelled', 'shipped', 'delivered', 'completed'];

	function orderCols() {
		return [
			{ key: 'id', label: 'col.id', cell: function (o, td) { td.appendChild(link(o.id, '#/orders/' + encodeURIComponent(o.id))); } },
			{ key: 'site', label: 'col.site' },
			{ key: 'channel', label: 'col.channel' },
			{ key: 'customer', label: 'col.customer' },
			{ key: 'status', label: 'col.status' },
			{ key: 'total', label: 'col.total', kind: 'money' },
			{ key: 'paid', label: 'col.paid', kind: 'money' },
			{ key: 'balance', label: 'col.balance', kind: 'money' },
			{ key: 'created_ms', label: 'col.created', get: function (o) { return when(o.created_ms); } },
		];
	}

	function pageOrders(route) {
		if (route.id)
			return pageOrder(route.id);
		var p = route.params;
		return Promise.all([
			get('/v1/orders', { status: p.get('status'), site: p.get('site'), customer: p.get('customer') }),
			get('/v1/sites'),
		]).then(function (r) {
			var orders = r[0].items.slice().sort(function (a, b) { return b.created_ms - a.created_ms; });
			var status = el('select', { id: 'f-status' }, el('option', { value: '', text: t('st.all') }));
			STATUSES.forEach(function (s) { status.appendChild(el('option', { value: s, text: s, selected: s === p.get('status') })); });
			var site = el('select', { id: 'f-site' }, el('option', { value: '', text: t('st.all') }));
			r[1].items.forEach(function (s) { site.appendChild(el('option', { value: s.site, text: s.site, selected: s.site === p.get('site') })); });
			var customer = el('input', { id: 'f-customer', type: 'search', value: p.get('customer') || '' });
			var id = el('input', { id: 'f-order', type: 'search' });
			var form = el('form', { className: 'filters', id: 'order-filters' },
			    el('label', null, t('or.status'), status), el('label', null, t('or.site'), site),
			    el('label', null, t('or.customer'), customer), el('label', null, t('or.search'), id),
			    el('button', { type: 'submit', text: t('or.find') }));
			var apply = function (ev) {
				ev.preventDefault();
				if (id.value) {
					go('orders', id.value.trim());
					return;
				}
				var q = new URLSearchParams();
				if (status.value) q.set('status', status.value);
				if (site.value) q.set('site', site.value);
				if (customer.value) q.set('customer', customer.value.trim());
				go('orders', null, q);
			};
			form.addEventListener('submit', apply);
			status.addEventListener('change', apply);
			site.addEventListener('change', apply);
			return [el('h1', { text: t('or.title') }), form,
			    card(null, table('tbl-orders', orderCols(), orders, function (o) { return o.id; }))];
		});
	}

	function pageOrder(id) {
		return Promise.all([
			get('/v1/orders/' + encodeURIComponent(id)),
			get('/v1/payments', { order: id }),
			get('/v1/cases'),
		]).then(function (r) {
			var o = r[0], payments = r[1].items;
			var cases = r[2].items.filter(function (c) { return c.order === id; });
			return [
			    el('p', null, link('← ' + t('or.back'), '#/orders')),
			    el('h1', { text: t('col.order') + ' ' + o.id }),
			    card(null, facts('order-head', [
				['col.status', o.status, 'status'], ['col.site', o.site, 'site'],
				['col.fulfil', o.fulfil_site, 'fulfil_site'], ['col.channel', o.channel, 'channel'],
				['col.customer', o.customer ? link(o.customer, '#/customers/' + encodeURIComponent(o.customer)) : null, 'customer'],
				['col.total', moneySpan(o.total, o.currency), 'total'],
				['col.paid', moneySpan(o.paid, o.currency), 'paid'],
				['col.balance', moneySpan(o.balance, o.currency), 'balance'],
				['col.created', when(o.created_ms), 'created_ms'],
			    ])),
			    el('div', { className: 'cards' },
				card(t('or.lines'), table('tbl-lines', [
					{ key: 'line', label: 'col.line', kind: 'num' },
					{ key: 'sku', label: 'col.sku' },
					{ key: 'qty', label: 'col.qty', kind: 'num' },
					{ key: 'unit_price', label: 'col.unitPrice', kind: 'money', currency: function () { return o.currency; } },
					{ key: 'amount', label: 'col.amount', kind: 'money', currency: function () { return o.currency; } },
				], o.lines || [], function (l) { return String(l.line); })),
				card(t('or.payments'), table('tbl-payments', [
					{ key: 'id', label: 'col.id' },
					{ key: 'method', label: 'col.method' },
					{ key: 'amount', label: 'col.amount', kind: 'money' },
					{ key: 'site', label: 'col.site' },
					{ key: 'at_ms', label: 'col.at', get: function (x) { return when(x.at_ms); } },
				], payments, function (x) { return x.id; })),
				card(t('or.history'), table('tbl-history', [
					{ key: 'status', label: 'col.status' },
					{ key: 'site', label: 'col.site' },
					{ key: 'at_ms', label: 'col.at', get: function (x) { return when(x.at_ms); } },
				], o.history || [], function (x) { return x.status; })),
				card(t('or.cases'), table('tbl-cases', [
					{ key: 'id', label: 'col.id' },
					{ key: 'kind', label: 'col.kind' },
					{ key: 'status', label: 'col.status' },
					{ key: 'site', label: 'col.site' },
					{ key: 'description', label: 'col.description', wrap: true },
				], cases, function (x) { return x.id; }))),
			];
		});
	}

	function moneySpan(minor, currency) {
		return el('span', { 'data-minor': minor, 'data-currency': currency, text: money(minor, currency) });
	}

	/* ---- approvals of special prices ---- */

	var APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'cancelled', 'draft'];

	/*
	 * GET /v1/approvals, filtered by status; a manager decides a pending
	 * one in its row: POST /v1/approvals/{id}/decision {approve, comment}.
	 */
	function pageApprovals(route) {
		var p = route.params;
		return get('/v1/approvals', { status: p.get('status') }).then(function (r) {
			var status = el('select', { id: 'f-approval-status' }, el('option', { value: '', text: t('ap.all') }));
			APPROVAL_STATUSES.forEach(function (s) { status.appendChild(el('option', { value: s, text: s, selected: s === p.get('status') })); });
			status.addEventListener('change', function () {
				var q = new URLSearchParams();
				if (status.value) q.set('status', status.value);
				go('approvals', null, q);
			});
			var cols = [
				{ key: 'id', label: 'col.order', cell: function (a, td) { td.appendChild(link(a.id, '#/orders/' + encodeURIComponent(a.id))); } },
				{ key: 'site', label: 'col.site' },
				{ key: 'customer', label: 'col.customer' },
				{ key: 'status', label: 'ap.status' },
				{ key: 'reason', label: 'ap.reason', wrap: true },
				{ key: 'comment', label: 'ap.comment', wrap: true },
				{ key: 'decided_at_ms', label: 'ap.decided', get: function (a) { return a.decided_at_ms ? when(a.decided_at_ms) : ''; } },
			];
			if (session.role === 'manager')
				cols.push({ key: 'decide', label: 'ap.decide', cell: decisionCell });
			return [el('h1', { text: t('ap.title') }),
			    el('form', { className: 'filters', id: 'approval-filters' }, el('label', null, t('ap.status'), status)),
			    card(null, table('tbl-approvals', cols, r.items, function (a) { return a.id; },
				function (a) { return a.status === 'pending' ? 'pending' : ''; }))];
		});
	}

	/* A pending approval's comment and its two buttons. */
	function decisionCell(a, td) {
		if (a.status !== 'pending')
			return;
		var comment = el('input', { type: 'text', 'aria-label': t('ap.comment'), placeholder: t('ap.comment'), size: 16 });
		var msg = el('span', { className: 'error', role: 'alert' });
		var decide = function (approve) {
			if (!approve && !comment.value.trim()) {
				msg.textContent = t('ap.needComment');
				return;
			}
			var body = { approve: approve };
			if (comment.value.trim())
				body.comment = comment.value.trim();
			api('POST', '/v1/approvals/' + encodeURIComponent(a.id) + '/decision', body).then(function () {
				draw(true);
			}).catch(function (e) {
				if (e instanceof LoginNeeded)
					showError(e);
				else
					msg.textContent = e.message;
			});
		};
		td.appendChild(comment);
		td.appendChild(el('button', { type: 'button', 'data-approve': a.id, text: t('ap.approve'), onclick: function () { decide(true); } }));
		td.appendChild(el('button', { type: 'button', 'data-reject': a.id, text: t('ap.reject'), onclick: function () { decide(false); } }));
		td.appendChild(msg);
	}

	/* ---- customers ---- */

	function pageCustomers(route) {
		if (route.id)
			return pageCustomer(route.id);
		var q = route.params.get('q') || '';
		return get('/v1/customers', { q: q }).then(function (r) {
			var input = el('input', { id: 'f-q', type: 'search', value: q });
			var form = el('form', { className: 'filters', id: 'customer-filters' },
			    el('label', null, t('cu.search'), input), el('button', { type: 'submit', text: t('or.find') }));
			form.addEventListener('submit', function (ev) {
				ev.preventDefault();
				var p = new URLSearchParams();
				if (input.value) p.set('q', input.value.trim());
				go('customers', null, p);
			});
			return [el('h1', { text: t('cu.title') }), form, card(null, table('tbl-customers', [
				{ key: 'id', label: 'col.id', cell: function (c, td) { td.appendChild(link(c.id, '#/customers/' + encodeURIComponent(c.id))); } },
				{ key: 'name', label: 'col.name' },
				{ key: 'phone', label: 'col.phone' },
				{ key: 'email', label: 'col.email' },
				{ key: 'tier', label: 'col.tier' },
				{ key: 'points', label: 'col.points', kind: 'num' },
				{ key: 'credit_limit', label: 'col.creditLimit', kind: 'money' },
				{ key: 'tags', label: 'col.tags' },
				{ key: 'site', label: 'col.site' },
			], r.items, function (c) { return c.id; }))];
		});
	}

	function pageCustomer(id) {
		return Promise.all([
			get('/v1/customers/' + encodeURIComponent(id)),
			get('/v1/customers/' + encodeURIComponent(id) + '/orders'),
		]).then(function (r) {
			var c = r[0];
			return [
			    el('p', null, link('← ' + t('cu.back'), '#/customers')),
			    el('h1', { text: c.name || c.id }),
			    card(null, facts('customer-head', [
				['col.id', c.id, 'id'], ['col.phone', c.phone, 'phone'], ['col.email', c.email, 'email'],
				['col.tier', c.tier, 'tier'], ['col.points', c.points, 'points'],
				['col.creditLimit', c.credit_limit !== null && c.credit_limit !== undefined && c.currency ? moneySpan(c.credit_limit, c.currency) : null, 'credit_limit'],
				['col.tags', (c.tags || []).join(', '), 'tags'], ['col.site', c.site, 'site'],
			    ])),
			    card(t('cu.orders'), table('tbl-customer-orders', orderCols(), r[1].items, function (o) { return o.id; })),
			];
		});
	}

	/* ---- receivables ---- */

	var BUCKETS = ['0-30', '31-60', '61-90', '90+'];

	function pageReceivables() {
		return get('/v1/reports/receivables').then(function (r) {
			var tot = r.totals || {};
			var curs = Object.keys(tot).sort();
			var datasets = curs.map(function (cur) {
				return { label: cur, data: BUCKETS.map(function (b) { return Number(major(tot[cur][b] || 0, cur)); }) };
			});
			var rows = [];
			curs.forEach(function (cur) {
				BUCKETS.forEach(function (b) {
					rows.push({ currency: cur, bucket: b, total: tot[cur][b] || 0 });
				});
			});
			return [
			    el('h1', { text: t('re.title') }),
			    el('div', { className: 'cards' },
				card(t('re.aging'), chart('chart-aging', 'bar', BUCKETS, datasets),
				    table('tbl-aging', [
					{ key: 'currency', label: 'col.currency' },
					{ key: 'bucket', label: 'col.bucket' },
					{ key: 'total', label: 'col.total', kind: 'money' },
				    ], rows, function (x) { return x.currency + '/' + x.bucket; })),
				card(t('re.open'), table('tbl-receivables', [
					{ key: 'invoice', label: 'col.invoice' },
					{ key: 'order', label: 'col.order', cell: function (x, td) { td.appendChild(link(x.order, '#/orders/' + encodeURIComponent(x.order))); } },
					{ key: 'site', label: 'col.site' },
					{ key: 'amount', label: 'col.amount', kind: 'money' },
					{ key: 'age_days', label: 'col.age', kind: 'num' },
					{ key: 'bucket', label: 'col.bucket' },
					{ key: 'overdue', label: 'col.overdue', get: function (x) { return x.overdue ? t('yes') : t('no'); } },
				], r.items, function (x) { return x.invoice; }, function (x) { return x.overdue ? 'overdue' : ''; }))),
			];
		});
	}

	/* ---- sync health ---- */

	function pageSync() {
		return Promise.all([get('/v1/status'), get('/v1/sites/sync')]).then(function (r) {
			var st = r[0], now = r[1].now_ms || Date.now();
			var sites = r[1].items.slice().sort(function (a, b) {
				return (b.silent ? 1 : 0) - (a.silent ? 1 : 0) || (a.site < b.site ? -1 : 1);
			});
			var silent = sites.filter(function (s) { return s.silent; }).map(function (s) { return s.site; });
			var out = [el('h1', { text: t('sy.title') })];
			if (silent.length)
				out.push(el('div', { className: 'banner', id: 'silent-banner', 'data-sites': silent.join(' '),
				    text: t('sy.silent', { list: silent.join(', ') }) }));
			out.push(card(t('sy.hub'), facts('hub-status', [
				['hub.sessions', st.sessions, 'sessions'], ['hub.received', st.ops_received, 'ops_received'],
				['hub.sent', st.ops_sent, 'ops_sent'], ['hub.quarantined', st.quarantined, 'quarantined'],
				['hub.recovering', st.recovering ? t('yes') : t('no'), 'recovering'],
			])));
			out.push(card(t('sy.sites'), table('tbl-sites', [
				{ key: 'site', label: 'col.site' },
				{ key: 'name', label: 'col.name' },
				{ key: 'role', label: 'col.role' },
				{ key: 'region', label: 'col.region' },
				{ key: 'link', label: 'col.link', cell: function (s, td) {
					td.setAttribute('data-link', s.link);
					td.appendChild(el('span', { className: 'badge ' + s.link, text: t('link.' + s.link) }));
				} },
				{ key: 'last_contact_ms', label: 'col.lastContact', cell: function (s, td) {
					td.setAttribute('data-ms', s.last_contact_ms === null ? '' : s.last_contact_ms);
					td.setAttribute('title', when(s.last_contact_ms));
					td.textContent = ago(s.last_contact_ms, now);
				} },
				{ key: 'last_push_ms', label: 'col.lastPush', get: function (s) { return when(s.last_push_ms); } },
				{ key: 'ops_held', label: 'col.opsHeld', kind: 'num' },
				{ key: 'waiting', label: 'col.waiting', cell: function (s, td) {
					td.className = 'num';
					var w = s.ops_waiting !== undefined ? s.ops_waiting : s.ops_waiting_max;
					td.setAttribute('data-value', w === null || w === undefined ? '' : w);
					td.textContent = s.link === 'up' && (w === null || w === undefined) ? t('sy.streaming')
					    : w === null || w === undefined ? '—'
					    : s.ops_waiting !== undefined ? number(w) : t('sy.atMost', { n: number(w) });
				} },
				{ key: 'quarantined', label: 'col.quarantined', kind: 'num' },
				{ key: 'conflicts', label: 'col.conflicts', kind: 'num' },
				{ key: 'clock_offset_ms', label: 'col.clock', cell: function (s, td) {
					td.className = 'num';
					td.setAttribute('data-value', s.clock_offset_ms === null ? '' : s.clock_offset_ms);
					td.textContent = s.clock_offset_ms === null || s.clock_offset_ms === undefined ? '—' : duration(s.clock_offset_ms);
				} },
				{ key: 'disk', label: 'col.disk', wrap: true, get: function (s) { return s.disk && s.disk.problem ? s.disk.problem : ''; } },
			], sites, function (s) { return s.site; }, function (s) { return s.silent ? 'silent' : ''; })));
			return out;
		});
	}

	/* ---- drawing ---- */

	var PAGES = {
		overview: pageOverview, stock: pageStock, orders: pageOrders,
		approvals: pageApprovals, customers: pageCustomers,
		receivables: pageReceivables, sync: pageSync,
	};

	function showError(e) {
		if (e instanceof LoginNeeded) {
			showLogin(e.message);
			return;
		}
		var main = document.getElementById('page');
		main.setAttribute('data-state', 'error');
		main.setAttribute('data-error', e && e.message ? e.message : String(e));
		main.replaceChildren(el('h1', { text: t('failed') }), el('p', { className: 'error', text: e && e.message ? e.message : String(e) }));
	}

	function draw(quiet) {
		var route = parseRoute();
		var fn = PAGES[route.page] || pageOverview;
		var main = document.getElementById('page');
		current = route;
		document.querySelectorAll('#nav a').forEach(function (a) {
			a.classList.toggle('current', a.getAttribute('data-route') === route.page);
		});
		applyStaticLabels();
		if (!quiet) {
			main.setAttribute('data-state', 'loading');
			main.setAttribute('data-page', route.page);
		}
		charts = [];
		return fn(route).then(function (nodes) {
			if (current !== route)
				return; /* another route was asked meanwhile */
			main.replaceChildren.apply(main, nodes);
			drawCharts();
			main.setAttribute('data-page', route.page);
			main.setAttribute('data-state', 'ready');
			main.removeAttribute('data-error');
			main.setAttribute('data-refreshes', String(Number(main.getAttribute('data-refreshes') || 0) + (quiet ? 1 : 0)));
			var now = new Date();
			document.getElementById('updated').textContent = t('updated') + ' ' + when(now.getTime());
			document.body.setAttribute('data-overflow',
			    document.documentElement.scrollWidth > window.innerWidth + 1 ? 'yes' : 'no');
		}).catch(showError);
	}

	/* Redraws the page in place unless someone is typing in it. */
	function refresh() {
		var a = document.activeElement;
		if (a && (a.tagName === 'INPUT' || a.tagName === 'SELECT') && document.getElementById('page').contains(a))
			return;
		if (!document.getElementById('login').hidden)
			return;
		draw(true);
	}

	/* ---- login ---- */

	function showLogin(message) {
		var main = document.getElementById('page');
		main.replaceChildren();
		main.setAttribute('data-state', 'login');
		document.getElementById('login').hidden = false;
		document.getElementById('login-error').textContent = message && message.indexOf('not logged in') < 0 ? message : '';
		document.getElementById('login-user').focus();
	}

	function showWho() {
		var who = document.getElementById('who');
		who.textContent = session.login ? session.user + ' (' + session.role + ')' : '';
		who.setAttribute('data-role', session.role || '');
		document.getElementById('logout').hidden = !session.login;
	}

	function start() {
		lang = chooseLang();
		if (new URLSearchParams(location.search).has('lang'))
			history.replaceState(null, '', location.pathname + location.hash);
		applyStaticLabels();
		document.getElementById('login-form').addEventListener('submit', function (ev) {
			ev.preventDefault();
			api('POST', '/console/login', {
				user: document.getElementById('login-user').value,
				password: document.getElementById('login-password').value,
			}).then(function (s) {
				session = s;
				document.getElementById('login-password').value = '';
				document.getElementById('login').hidden = true;
				showWho();
				draw(false);
			}).catch(function (e) {
				document.getElementById('login-error').textContent = e.message;
			});
		});
		document.getElementById('logout').addEventListener('click', function () {
			api('POST', '/console/logout', {}).then(function () {
				session = { login: false, user: null, role: '', csrf: '' };
				showWho();
				showLogin('');
			}).catch(showError);
		});
		window.addEventListener('hashchange', function () { draw(false); });
		fetch('/console/session', { credentials: 'same-origin' }).then(function (res) {
			return res.json().then(function (j) {
				if (res.status === 401)
					throw new LoginNeeded('');
				if (!res.ok)
					throw new Error(j.error ? j.error.message : String(res.status));
				session = j;
			});
		}).then(function () {
			showWho();
			return draw(false);
		}).catch(showError);
		setInterval(refresh, REFRESH_MS);
	}

	LoginNeeded.prototype = Object.create(Error.prototype);
	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
