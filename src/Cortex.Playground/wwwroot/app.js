// Cortex Playground: the page. The server trains the network (Cortex) and streams its state as Server-Sent Events;
// this script only draws that state and sends the user's settings. No libraries: canvas and SVG by hand.
'use strict';

(() => {
  const EXTENT = 6; // the input square is [-6, 6]²

  // The input features (id, label, picture), as the server defines them: GET /api/features fills this before anything
  // is drawn.
  let inputFeatures = [], featureGrid = 0;
  const DATASETS = {
    classification: ['circle', 'xor', 'gauss', 'spiral'],
    regression: ['plane', 'multigauss'],
  };
  const DATASET_NAMES = { circle: 'Circle', xor: 'Exclusive or', gauss: 'Gaussian', spiral: 'Spiral', plane: 'Plane', multigauss: 'Multi Gaussian' };
  const DEFAULTS = {
    problem: 'classification', dataset: 'circle', noise: 0, trainRatio: 50, batchSize: 10, seed: 1,
    features: ['x1', 'x2'], layers: [4, 2], activation: 'tanh', learningRate: 0.03,
    regularization: 'none', regularizationRate: 0, optimizer: 'sgd',
  };
  const VIEW_DEFAULTS = { showTestData: false, discretize: false };
  const NUMERIC = new Set(['noise', 'trainRatio', 'batchSize', 'seed', 'learningRate', 'regularizationRate']);
  const MAX_LAYERS = 6, MAX_NEURONS = 8;

  // What the tests (and curious users, in the console) can read.
  const pg = window.playground = {
    sessionId: null, settings: { ...DEFAULTS }, view: { ...VIEW_DEFAULTS }, code: '',
    state: null, points: null, statesDrawn: 0, hovered: null,
  };

  const $ = id => document.getElementById(id);

  // ---- colours: orange (−1) → light grey (0) → blue (+1), as a 256-entry table indexed by the quantised byte ----
  const ORANGE = [245, 147, 34], MID = [232, 234, 235], BLUE = [8, 119, 189];
  function colourOf(v) {
    v = Math.max(-1, Math.min(1, v));
    const [a, b, t] = v < 0 ? [MID, ORANGE, -v] : [MID, BLUE, v];
    return [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * t));
  }
  const LUT = Array.from({ length: 256 }, (_, b) => colourOf(b / 127.5 - 1));
  const rgb = c => `rgb(${c[0]},${c[1]},${c[2]})`;

  function decode(base64) {
    const s = atob(base64);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return bytes;
  }

  /** Paints size×size quantised values onto a canvas of that size (CSS scales it). */
  function paintBytes(canvas, bytes, size, discretize) {
    if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const b = bytes[i];
      const c = discretize ? (b >= 128 ? BLUE : ORANGE) : LUT[b];
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  // ---- URL: the settings and view options live in the hash, so a link reproduces a setup ----
  function readHash() {
    const settings = {}, view = {};
    for (const [k, v] of new URLSearchParams(location.hash.slice(1))) {
      if (k in DEFAULTS) {
        if (k === 'features') settings[k] = v ? v.split(',') : [];
        else if (k === 'layers') settings[k] = v ? v.split(',').map(Number) : [];
        else settings[k] = NUMERIC.has(k) ? Number(v) : v;
      } else if (k in VIEW_DEFAULTS) view[k] = v === 'true';
    }
    return { settings, view };
  }

  function writeHash() {
    const p = new URLSearchParams();
    for (const k of Object.keys(DEFAULTS)) {
      const v = pg.settings[k];
      p.set(k, Array.isArray(v) ? v.join(',') : String(v));
    }
    for (const k of Object.keys(VIEW_DEFAULTS)) p.set(k, String(pg.view[k]));
    history.replaceState(null, '', '#' + p.toString());
  }

  // ---- talking to the server ----
  function showError(message) {
    const e = $('error');
    e.textContent = message;
    e.hidden = !message;
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? '' : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.error || `The server answered ${res.status}.`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // Requests go one at a time, in order, so that settings arrive as the user made them.
  let queue = Promise.resolve();
  function enqueue(fn) {
    const run = queue.then(fn);
    queue = run.catch(() => { });
    return run;
  }

  async function startSession(settings) {
    const data = await post('/api/sessions', settings);
    pg.sessionId = data.id;
    applySettings(data.settings, data.code);
    connect();
  }

  /** An action on this tab's session; a session the server dropped (idle too long) is replaced transparently. */
  function act(action, body) {
    return enqueue(async () => {
      try {
        return await post(`/api/sessions/${pg.sessionId}/${action}`, body);
      } catch (e) {
        if (e.status !== 404) throw e;
        await startSession(pg.settings);
        return post(`/api/sessions/${pg.sessionId}/${action}`, body);
      }
    }).catch(e => { showError(e.message); syncControls(); throw e; });
  }

  async function updateSettings(patch) {
    const data = await act('settings', patch);
    showError('');
    applySettings(data.settings, data.code);
  }

  let events = null;
  function connect() {
    if (events) events.close();
    const es = events = new EventSource(`/api/sessions/${pg.sessionId}/events`);
    es.addEventListener('points', e => { pg.points = JSON.parse(e.data); requestDraw(); });
    es.addEventListener('state', e => { pg.state = JSON.parse(e.data); requestDraw(); });
    es.onerror = () => {
      // CLOSED means the server refused the stream (the session is gone); otherwise the browser retries by itself.
      if (es.readyState === EventSource.CLOSED && es === events)
        setTimeout(() => enqueue(() => startSession(pg.settings)).catch(e => showError(e.message)), 1000);
    };
  }

  // ---- settings → controls ----
  function applySettings(settings, code) {
    const shapeChanged = !pg.settings || pg.settings.features.join() !== settings.features.join() ||
      pg.settings.layers.join() !== settings.layers.join() || !$('network').dataset.built;
    pg.settings = settings;
    if (code !== undefined) { pg.code = code; $('code').textContent = code; }
    $('download').href = `/api/sessions/${pg.sessionId}/model`;
    $('download-onnx').href = `/api/sessions/${pg.sessionId}/model.onnx`;
    syncControls();
    if (shapeChanged) buildNetwork();
    writeHash();
    requestDraw();
  }

  function syncControls() {
    const s = pg.settings;
    $('learning-rate').value = String(s.learningRate);
    if ($('learning-rate').value !== String(s.learningRate)) addOption($('learning-rate'), s.learningRate);
    $('regularization-rate').value = String(s.regularizationRate);
    if ($('regularization-rate').value !== String(s.regularizationRate)) addOption($('regularization-rate'), s.regularizationRate);
    $('activation').value = s.activation;
    $('regularization').value = s.regularization;
    $('problem').value = s.problem;
    $('optimizer').value = s.optimizer;
    for (const [id, key] of [['train-ratio', 'trainRatio'], ['noise', 'noise'], ['batch-size', 'batchSize']]) {
      $(id).value = s[key];
      $(id + '-value').textContent = s[key];
    }
    $('show-test').checked = pg.view.showTestData;
    $('discretize').checked = pg.view.discretize;
    $('layer-count').textContent = s.layers.length;
    $('add-layer').disabled = s.layers.length >= MAX_LAYERS;
    $('remove-layer').disabled = s.layers.length === 0;
    buildDatasetButtons();
    $('loss-name').textContent = s.problem === 'classification'
      ? 'Loss: binary cross-entropy (output: sigmoid)' : 'Loss: mean squared error (output: linear)';
  }

  function addOption(select, value) {
    const o = document.createElement('option');
    o.textContent = String(value);
    select.appendChild(o);
    select.value = String(value);
  }

  // ---- dataset thumbnails: drawn from formulas, to show what each dataset looks like ----
  function thumbnail(name, canvas) {
    const size = 48, ctx = canvas.getContext('2d');
    canvas.width = size; canvas.height = size;
    ctx.fillStyle = rgb(MID); ctx.fillRect(0, 0, size, size);
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const px = v => (v + EXTENT) / (2 * EXTENT) * size;
    const dot = (x, y, v) => { ctx.fillStyle = rgb(colourOf(v)); ctx.fillRect(px(x) - 1, px(-y) - 1, 2.2, 2.2); };
    if (name === 'plane' || name === 'multigauss') {
      const bumps = [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]];
      for (let i = 0; i < size; i += 2) for (let j = 0; j < size; j += 2) {
        const x = i / size * 12 - 6, y = 6 - j / size * 12;
        const v = name === 'plane' ? (x + y) / 12 : bumps.reduce((s, [bx, by, sg]) => s + sg * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / 2.9), 0);
        ctx.fillStyle = rgb(colourOf(v)); ctx.fillRect(i, j, 2, 2);
      }
      return;
    }
    for (let i = 0; i < 160; i++) {
      const a = rand() * 2 * Math.PI;
      if (name === 'circle') { const inner = i % 2, r = inner ? rand() * 2.5 : 3.5 + rand() * 1.5; dot(r * Math.sin(a), r * Math.cos(a), inner ? 1 : -1); }
      else if (name === 'xor') { const x = rand() * 10 - 5, y = rand() * 10 - 5; dot(x, y, x * y >= 0 ? 1 : -1); }
      else if (name === 'gauss') {
        const c = i % 2 ? 2 : -2, r = Math.sqrt(-2 * Math.log(rand() + 1e-9)) * 0.8;
        dot(c + r * Math.cos(a), c + r * Math.sin(a), Math.sign(c));
      }
      else if (name === 'spiral') { const arm = i % 2, t = i / 160, r = t * 5, th = 1.75 * t * 2 * Math.PI + arm * Math.PI; dot(r * Math.sin(th), r * Math.cos(th), arm ? -1 : 1); }
    }
  }

  function buildDatasetButtons() {
    const box = $('datasets'), names = DATASETS[pg.settings.problem];
    if (box.dataset.problem !== pg.settings.problem) {
      box.dataset.problem = pg.settings.problem;
      box.innerHTML = '';
      for (const name of names) {
        const b = document.createElement('button');
        b.className = 'dataset';
        b.dataset.dataset = name;
        b.title = DATASET_NAMES[name];
        const c = document.createElement('canvas');
        thumbnail(name, c);
        b.appendChild(c);
        b.addEventListener('click', () => updateSettings({ dataset: name }));
        box.appendChild(b);
      }
    }
    for (const b of box.children) b.classList.toggle('selected', b.dataset.dataset === pg.settings.dataset);
  }

  // ---- the network: feature nodes, hidden neurons, output, and the links between them ----
  const NODE = 36, ROW = 48, TOP = 56, LEFT = 52;
  let layout = null;

  function buildNetwork() {
    const net = $('network'), svg = $('links');
    for (const el of [...net.children]) if (el !== svg) el.remove();
    svg.innerHTML = '';
    net.dataset.built = '1';
    const s = pg.settings, hiddenCount = s.layers.length;
    const spacing = hiddenCount >= 5 ? 92 : 118;
    const colX = c => LEFT + c * spacing;
    const nodes = []; // nodes[column][index] = {x, y, el, canvas}

    // Column 0: every feature, inactive ones faded; a click toggles one.
    const featureNodes = [];
    inputFeatures.forEach((f, i) => {
      const active = s.features.includes(f.id);
      const y = TOP + i * ROW;
      const label = document.createElement('div');
      label.className = 'node-label';
      label.innerHTML = f.label;
      label.style.left = '0px'; label.style.top = (y + 10) + 'px';
      net.appendChild(label);
      const n = makeNode(colX(0) - LEFT + 48, y, 'feature' + (active ? ' active' : ' inactive'));
      n.el.dataset.feature = f.id;
      n.el.title = `${active ? 'Remove' : 'Add'} the feature ${label.textContent}`;
      paintBytes(n.canvas, f.bytes, featureGrid, false);
      n.el.addEventListener('click', () => toggleFeature(f.id));
      n.el.addEventListener('mouseenter', () => hover({ kind: 'feature', feature: f }));
      n.el.addEventListener('mouseleave', () => hover(null));
      if (active) featureNodes.push(n);
    });
    nodes.push(featureNodes);

    // Hidden layers, each with its own + / − for neurons.
    s.layers.forEach((units, l) => {
      const x = colX(l + 1);
      const controls = document.createElement('div');
      controls.className = 'layer-controls';
      controls.dataset.layer = l;
      controls.style.left = (x - 17) + 'px'; controls.style.top = '0px';
      controls.innerHTML = `<div class="pm"><button class="round add-neuron" title="Add a neuron">+</button>` +
        `<button class="round remove-neuron" title="Remove a neuron">&minus;</button></div><div>${units} neuron${units > 1 ? 's' : ''}</div>`;
      controls.querySelector('.add-neuron').disabled = units >= MAX_NEURONS;
      controls.querySelector('.remove-neuron').disabled = units <= 1;
      controls.querySelector('.add-neuron').addEventListener('click', () => changeNeurons(l, +1));
      controls.querySelector('.remove-neuron').addEventListener('click', () => changeNeurons(l, -1));
      net.appendChild(controls);
      const column = [];
      for (let j = 0; j < units; j++) {
        const n = makeNode(x, TOP + j * ROW, 'neuron');
        n.el.dataset.layer = l; n.el.dataset.index = j;
        n.el.addEventListener('mouseenter', () => hover({ kind: 'neuron', layer: l, index: j }));
        n.el.addEventListener('mouseleave', () => hover(null));
        column.push(n);
      }
      nodes.push(column);
    });

    // The output neuron, level with the middle of the last column.
    const last = nodes[nodes.length - 1];
    const outY = last.length ? (last[0].y + last[last.length - 1].y) / 2 : TOP;
    const out = makeNode(colX(hiddenCount + 1), outY, 'output');
    out.el.title = 'Output';
    nodes.push([out]);

    // Links (a visible path and a wider invisible one that catches the mouse), drawn under the nodes.
    const links = [];
    for (let l = 0; l + 1 < nodes.length; l++) {
      const layerLinks = [];
      nodes[l].forEach((a, i) => nodes[l + 1].forEach((b, j) => {
        const d = `M${a.x + NODE},${a.y + NODE / 2} C${(a.x + NODE + b.x) / 2},${a.y + NODE / 2} ${(a.x + NODE + b.x) / 2},${b.y + NODE / 2} ${b.x},${b.y + NODE / 2}`;
        const path = svgEl('path', { d, class: 'link', 'data-layer': l, 'data-source': i, 'data-target': j, stroke: rgb(MID), 'stroke-width': 1 });
        const hit = svgEl('path', { d, class: 'link-hit' });
        hit.addEventListener('mousemove', e => showTooltip(e, () => `Weight is ${fmtWeight(weightOf(l, i, j))}`));
        hit.addEventListener('mouseleave', hideTooltip);
        svg.appendChild(path); svg.appendChild(hit);
        layerLinks.push({ path, i, j });
      }));
      links.push(layerLinks);
    }
    // Biases: a small square at each neuron's lower left; hover shows the value.
    const biases = [];
    for (let l = 1; l < nodes.length; l++) {
      const column = nodes[l].map((n, j) => {
        const b = document.createElement('div');
        b.className = 'bias';
        b.style.left = (n.x - 9) + 'px'; b.style.top = (n.y + NODE - 5) + 'px';
        b.addEventListener('mousemove', e => showTooltip(e, () => `Bias is ${fmtWeight(biasOf(l - 1, j))}`));
        b.addEventListener('mouseleave', hideTooltip);
        net.appendChild(b);
        return b;
      });
      biases.push(column);
    }
    const width = colX(hiddenCount + 1) + NODE + 10, height = TOP + Math.max(inputFeatures.length, ...s.layers) * ROW;
    svg.setAttribute('width', width); svg.setAttribute('height', height);
    net.style.width = width + 'px'; net.style.height = height + 'px';
    layout = { nodes, links, biases, out };
    requestDraw();
  }

  function makeNode(x, y, cls) {
    const el = document.createElement('div');
    el.className = 'node ' + cls;
    el.style.left = x + 'px'; el.style.top = y + 'px';
    const canvas = document.createElement('canvas');
    canvas.width = 25; canvas.height = 25;
    el.appendChild(canvas);
    $('network').appendChild(el);
    return { x, y, el, canvas };
  }

  function svgEl(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  const weightOf = (l, i, j) => pg.state?.weights?.[l]?.kernel?.[i]?.[j];
  const biasOf = (l, j) => pg.state?.weights?.[l]?.bias?.[j];
  const fmtWeight = w => (w === null || w === undefined) ? 'not a number' : w.toFixed(3);

  function showTooltip(e, text) {
    const t = $('tooltip'), box = $('network').parentElement.getBoundingClientRect();
    t.textContent = text();
    t.style.left = (e.clientX - box.left + 12) + 'px';
    t.style.top = (e.clientY - box.top + 12) + 'px';
    t.hidden = false;
  }
  function hideTooltip() { $('tooltip').hidden = true; }

  function hover(what) { pg.hovered = what; requestDraw(); }

  function toggleFeature(id) {
    const on = pg.settings.features.includes(id);
    if (on && pg.settings.features.length === 1) { showError('The network needs at least one input feature.'); return; }
    const features = on ? pg.settings.features.filter(f => f !== id) : [...pg.settings.features, id];
    updateSettings({ features });
  }

  function changeNeurons(l, delta) {
    const layers = [...pg.settings.layers];
    layers[l] = Math.max(1, Math.min(MAX_NEURONS, layers[l] + delta));
    updateSettings({ layers });
  }

  // ---- drawing the state ----
  let drawPending = false;
  function requestDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; draw(); });
  }

  const fmtLoss = v => (v === null || v === undefined) ? 'NaN' : v.toFixed(3);
  const fmtEpoch = n => String(n).padStart(6, '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');

  function draw() {
    const st = pg.state;
    if (!st || !layout) return;
    $('epoch').textContent = fmtEpoch(st.epoch);
    // The program on screen trains for as many epochs as the network has had.
    const code = pg.code.replace(/epochs: \d+/, `epochs: ${st.epoch}`);
    if ($('code').textContent !== code) $('code').textContent = code;
    $('play-pause').classList.toggle('playing', st.playing);
    $('loss-test').textContent = fmtLoss(st.testLoss);
    $('loss-train').textContent = fmtLoss(st.trainLoss);
    $('diverged').hidden = !st.diverged;
    const pct = v => v === null || v === undefined ? '' : `accuracy ${(100 * v).toFixed(1)}%`;
    $('accuracy-test').textContent = pct(st.testAccuracy);
    $('accuracy-train').textContent = pct(st.trainAccuracy);
    drawChart(st.history);
    drawNetwork(st);
    drawHeatmap(st);
    pg.statesDrawn++;
    document.body.dataset.stateVersion = st.version;
  }

  function drawChart(history) {
    const c = $('loss-chart'), ctx = c.getContext('2d');
    ctx.clearRect(0, 0, c.width, c.height);
    if (!history || history.length < 2) return;
    const first = history[0][0], last = history[history.length - 1][0];
    let max = 0;
    for (const h of history) for (const v of [h[1], h[2]]) if (v !== null && v > max) max = v;
    max = Math.max(max, 1e-6);
    const x = e => (e - first) / Math.max(1, last - first) * (c.width - 2) + 1;
    const y = v => c.height - 2 - Math.min(1, v / max) * (c.height - 4);
    for (const [col, colour, width] of [[1, '#aaa', 1.5], [2, '#222', 1.5]]) {
      ctx.beginPath();
      ctx.strokeStyle = colour; ctx.lineWidth = width;
      let started = false;
      for (const h of history) {
        if (h[col] === null) continue;
        if (started) ctx.lineTo(x(h[0]), y(h[col])); else { ctx.moveTo(x(h[0]), y(h[col])); started = true; }
      }
      ctx.stroke();
    }
  }

  function drawNetwork(st) {
    const discretize = pg.view.discretize;
    st.neurons.forEach((column, l) => column.forEach((b64, j) => {
      const node = layout.nodes[l + 1]?.[j];
      if (node) paintBytes(node.canvas, decode(b64), st.neuronGrid, false);
    }));
    paintBytes(layout.out.canvas, decode(st.output), st.outputGrid, discretize);
    layout.links.forEach((layerLinks, l) => layerLinks.forEach(({ path, i, j }) => {
      const w = weightOf(l, i, j);
      const v = w === null || w === undefined ? 0 : w;
      path.setAttribute('stroke', rgb(colourOf(v)));
      path.setAttribute('stroke-width', Math.min(9, 0.6 + 3 * Math.abs(v)).toFixed(2));
    }));
    layout.biases.forEach((column, l) => column.forEach((el, j) => {
      const b = biasOf(l, j);
      el.style.background = rgb(colourOf(b ?? 0));
    }));
  }

  function drawHeatmap(st) {
    const c = $('heatmap'), ctx = c.getContext('2d');
    const off = document.createElement('canvas');
    let caption = 'Output of the network';
    const h = pg.hovered;
    if (h && h.kind === 'neuron' && st.neurons[h.layer]?.[h.index]) {
      paintBytes(off, decode(st.neurons[h.layer][h.index]), st.neuronGrid, false);
      caption = `Neuron ${h.index + 1} of hidden layer ${h.layer + 1}`;
    } else if (h && h.kind === 'feature') {
      paintBytes(off, h.feature.bytes, featureGrid, false);
      caption = `Feature ${h.feature.label.replace(/<[^>]+>/g, '')}`;
    } else {
      paintBytes(off, decode(st.output), st.outputGrid, pg.view.discretize);
    }
    ctx.imageSmoothingEnabled = !pg.view.discretize || (h !== null);
    ctx.drawImage(off, 0, 0, c.width, c.height);
    $('heatmap-caption').textContent = caption;
    drawPoints(ctx, c.width);
  }

  function drawPoints(ctx, size) {
    const p = pg.points;
    if (!p) return;
    const px = v => (v + EXTENT) / (2 * EXTENT) * size;
    const n = p.points.length / 3;
    const last = pg.view.showTestData ? n : p.trainCount;
    for (let k = 0; k < last; k++) {
      const x = p.points[3 * k], y = p.points[3 * k + 1], label = p.points[3 * k + 2];
      ctx.beginPath();
      ctx.arc(px(x), px(-y), 3, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(colourOf(pg.settings.problem === 'classification' ? Math.sign(label) : label));
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = k < p.trainCount ? '#fff' : '#000';
      ctx.stroke();
    }
  }

  function drawLegend() {
    const c = $('legend'), ctx = c.getContext('2d');
    for (let i = 0; i < c.width; i++) { ctx.fillStyle = rgb(colourOf(i / (c.width - 1) * 2 - 1)); ctx.fillRect(i, 0, 1, c.height); }
  }

  // ---- wiring ----
  function wire() {
    $('play-pause').addEventListener('click', () => {
      const playing = pg.state?.playing;
      $('play-pause').classList.toggle('playing', !playing);
      act(playing ? 'pause' : 'play').catch(() => { });
    });
    $('step').addEventListener('click', () => act('step').catch(() => { }));
    $('reset').addEventListener('click', () => act('reset').catch(() => { }));
    $('regenerate').addEventListener('click', async () => {
      const data = await act('regenerate');
      applySettings(data.settings, data.code);
    });
    const selects = { 'learning-rate': ['learningRate', Number], activation: ['activation', String], regularization: ['regularization', String],
      'regularization-rate': ['regularizationRate', Number], problem: ['problem', String], optimizer: ['optimizer', String] };
    for (const [id, [key, convert]] of Object.entries(selects))
      $(id).addEventListener('change', () => updateSettings({ [key]: convert($(id).value) }).catch(() => { }));
    for (const [id, key] of [['train-ratio', 'trainRatio'], ['noise', 'noise'], ['batch-size', 'batchSize']]) {
      $(id).addEventListener('input', () => { $(id + '-value').textContent = $(id).value; });
      $(id).addEventListener('change', () => updateSettings({ [key]: Number($(id).value) }).catch(() => { }));
    }
    $('add-layer').addEventListener('click', () => {
      if (pg.settings.layers.length < MAX_LAYERS) updateSettings({ layers: [...pg.settings.layers, 2] }).catch(() => { });
    });
    $('remove-layer').addEventListener('click', () => {
      if (pg.settings.layers.length > 0) updateSettings({ layers: pg.settings.layers.slice(0, -1) }).catch(() => { });
    });
    $('show-test').addEventListener('change', () => { pg.view.showTestData = $('show-test').checked; writeHash(); requestDraw(); });
    $('discretize').addEventListener('change', () => { pg.view.discretize = $('discretize').checked; writeHash(); requestDraw(); });
    window.addEventListener('pagehide', () => {
      if (pg.sessionId) navigator.sendBeacon(`/api/sessions/${pg.sessionId}/close`);
    });
  }

  async function loadFeatures() {
    const res = await fetch('/api/features');
    if (!res.ok) throw new Error(`The server did not send the input features (HTTP ${res.status}).`);
    const data = await res.json();
    featureGrid = data.grid;
    inputFeatures = data.features.map(f => ({ ...f, bytes: decode(f.image) }));
  }

  async function main() {
    wire();
    drawLegend();
    try {
      await loadFeatures();
    } catch (e) {
      showError(e.message);
      return;
    }
    const { settings, view } = readHash();
    pg.view = { ...VIEW_DEFAULTS, ...view };
    try {
      await startSession({ ...DEFAULTS, ...settings });
    } catch (e) {
      // A bad link: say what was wrong and start from the defaults.
      showError(`This link's settings were refused: ${e.message} Starting from the defaults.`);
      await startSession(DEFAULTS).catch(err => showError(err.message));
    }
  }

  main();
})();
