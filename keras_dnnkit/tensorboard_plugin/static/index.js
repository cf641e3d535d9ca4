// keras-dnnkit's TensorBoard dashboard. Plain JavaScript and SVG: no libraries, no network
// beyond this plugin's own routes (./data, ./static/style.css), which TensorBoard serves.
//
// For a chosen run: a heatmap of gradient norm by layer (input at the top, output at the
// bottom) and step, on a log colour scale; the findings, current and resolved. For a chosen
// step: every run's gradient-norm profile side by side, and the update / weight ratios
// against the 1e-3 band. Layer rows carry data-layer="NAME", findings data-problem="PROBLEM".

const SVG = 'http://www.w3.org/2000/svg';
const RUN_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
// Stops of the viridis colour map (dark = small gradients, yellow = large).
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89',
  '#35b779', '#6ece58', '#b5de2b', '#fde725'];
const BAND = [1e-4, 1e-2]; // update / weight ratios near 1e-3 are healthy
const LABEL_WIDTH = 130;
const ROW_HEIGHT = 16;

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function svgElement(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function format(value) {
  if (value === null || value === undefined) return '-';
  return value === 0 ? '0' : value.toExponential(2);
}

function colour(fraction) {
  const position = Math.max(0, Math.min(1, fraction)) * (VIRIDIS.length - 1);
  const low = Math.floor(position);
  const high = Math.min(low + 1, VIRIDIS.length - 1);
  const mix = position - low;
  const parse = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const [a, b] = [parse(VIRIDIS[low]), parse(VIRIDIS[high])];
  return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * mix)).join(',')})`;
}

// Log10 bounds of every positive value of `column` over `runs`.
function logBounds(runs, column) {
  let low = Infinity;
  let high = -Infinity;
  for (const run of runs) {
    for (const series of Object.values(run[column])) {
      for (const [, value] of series) {
        if (value > 0) {
          low = Math.min(low, Math.log10(value));
          high = Math.max(high, Math.log10(value));
        }
      }
    }
  }
  if (!isFinite(low)) return [-1, 0];
  return high - low < 1e-9 ? [low - 0.5, high + 0.5] : [low, high];
}

// The value of `series` at the last logged step <= step (null before the first).
function valueAt(series, step) {
  let found = null;
  for (const [s, value] of series || []) {
    if (s <= step) found = value;
  }
  return found;
}

function allSteps(runs) {
  return [...new Set(runs.flatMap((run) => run.steps))].sort((a, b) => a - b);
}

function findingItem(finding) {
  const item = element('li', {
    'class': `finding ${finding.status}`,
    'data-problem': finding.problem,
    'data-status': finding.status,
  });
  const steps = finding.first_step === finding.last_step || finding.last_step === null
    ? `step ${finding.first_step ?? '?'}`
    : `steps ${finding.first_step}-${finding.last_step}`;
  const resolved = finding.status === 'resolved' && finding.resolved_step !== null
    ? `, resolved at step ${finding.resolved_step}` : '';
  item.appendChild(element('strong', {}, finding.problem.replace(/_/g, ' ')));
  const layers = finding.layers.length ? ` in ${finding.layers.join(', ')}` : '';
  item.appendChild(element('span', {'class': 'where'}, ` ${layers} (${steps}${resolved})`));
  if (finding.message) item.appendChild(element('div', {'class': 'message'}, finding.message));
  if (finding.advice) item.appendChild(element('div', {'class': 'advice'}, finding.advice));
  return item;
}

function renderFindings(container, run) {
  container.textContent = '';
  container.appendChild(element('h2', {}, `Findings: ${run.run}`));
  for (const status of ['current', 'resolved']) {
    const findings = run.findings.filter((f) => f.status === status);
    container.appendChild(element('h3', {}, `${status} (${findings.length})`));
    const list = element('ul', {'class': `findings ${status}`});
    if (!findings.length) list.appendChild(element('li', {'class': 'none'}, 'none'));
    for (const finding of findings) list.appendChild(findingItem(finding));
    container.appendChild(list);
  }
}

function renderHeatmap(container, run, bounds, state, onStep) {
  container.textContent = '';
  container.appendChild(element('h2', {},
    `Gradient norm by layer (input \u2192 output) and step: ${run.run}`));
  const steps = run.steps;
  const cell = Math.max(4, Math.min(28, Math.floor(640 / Math.max(1, steps.length))));
  const width = LABEL_WIDTH + cell * steps.length + 10;
  const height = ROW_HEIGHT * run.layers.length + 30;
  const svg = svgElement('svg', {width, height, 'class': 'heatmap'});
  const [low, high] = bounds;
  run.layers.forEach((layer, row) => {
    const group = svgElement('g', {'class': 'layer-row', 'data-layer': layer});
    const y = row * ROW_HEIGHT;
    group.appendChild(svgElement('text', {x: LABEL_WIDTH - 6, y: y + ROW_HEIGHT - 4,
      'text-anchor': 'end', 'class': 'label'}, layer));
    const series = new Map(run.gradient_norm[layer] || []);
    steps.forEach((step, column) => {
      const value = series.get(step);
      const fill = value > 0 ? colour((Math.log10(value) - low) / (high - low)) : '#ddd';
      const rect = svgElement('rect', {x: LABEL_WIDTH + column * cell, y, width: cell - 1,
        height: ROW_HEIGHT - 1, fill, 'data-step': step});
      rect.appendChild(svgElement('title', {}, `${layer}, step ${step}: ${format(value)}`));
      rect.addEventListener('click', () => onStep(step));
      group.appendChild(rect);
    });
    svg.appendChild(group);
  });
  const chosen = steps.indexOf(state.step);
  if (chosen >= 0) {
    svg.appendChild(svgElement('rect', {x: LABEL_WIDTH + chosen * cell - 1, y: 0,
      width: cell + 1, height: ROW_HEIGHT * run.layers.length, 'class': 'chosen-step'}));
  }
  const axisY = ROW_HEIGHT * run.layers.length + 14;
  svg.appendChild(svgElement('text', {x: LABEL_WIDTH, y: axisY, 'class': 'axis'},
    `step ${steps[0] ?? ''}`));
  svg.appendChild(svgElement('text', {x: width - 10, y: axisY, 'text-anchor': 'end',
    'class': 'axis'}, `step ${steps[steps.length - 1] ?? ''}`));
  container.appendChild(svg);
  container.appendChild(legend(bounds));
}

function legend([low, high]) {
  const width = 240;
  const svg = svgElement('svg', {width: width + 160, height: 34, 'class': 'legend'});
  const gradient = svgElement('linearGradient', {id: 'dnnkit-scale'});
  VIRIDIS.forEach((stop, i) => gradient.appendChild(svgElement('stop',
    {offset: `${(100 * i) / (VIRIDIS.length - 1)}%`, 'stop-color': stop})));
  const defs = svgElement('defs');
  defs.appendChild(gradient);
  svg.appendChild(defs);
  svg.appendChild(svgElement('rect', {x: 80, y: 2, width, height: 12,
    fill: 'url(#dnnkit-scale)'}));
  svg.appendChild(svgElement('text', {x: 0, y: 12, 'class': 'axis'}, 'log colour'));
  svg.appendChild(svgElement('text', {x: 80, y: 28, 'class': 'axis'}, format(10 ** low)));
  svg.appendChild(svgElement('text', {x: 80 + width, y: 28, 'text-anchor': 'end',
    'class': 'axis'}, format(10 ** high)));
  return svg;
}

// A chart of one value per layer (x: input -> output) on a log y axis, one line per run.
function layerChart(runs, layers, column, step, bounds, band) {
  const width = 640;
  const height = 220;
  const margin = {left: 60, right: 10, top: 10, bottom: 24};
  const svg = svgElement('svg', {width, height, 'class': `chart ${column}`});
  const [low, high] = band ? [Math.min(bounds[0], -4.5), Math.max(bounds[1], -1.5)] : bounds;
  const x = (i) => margin.left + (layers.length < 2 ? 0
    : (i * (width - margin.left - margin.right)) / (layers.length - 1));
  const y = (value) => margin.top + ((high - Math.log10(value)) / (high - low))
    * (height - margin.top - margin.bottom);
  if (band) {
    svg.appendChild(svgElement('rect', {x: margin.left, y: y(band[1]),
      width: width - margin.left - margin.right, height: y(band[0]) - y(band[1]),
      'class': 'band'}));
    svg.appendChild(svgElement('line', {x1: margin.left, x2: width - margin.right,
      y1: y(1e-3), y2: y(1e-3), 'class': 'band-centre'}));
  }
  const every = Math.max(1, Math.ceil((high - low) / 8)); // at most about 8 labelled decades
  for (let decade = Math.ceil(low); decade <= Math.floor(high); decade++) {
    svg.appendChild(svgElement('line', {x1: margin.left, x2: width - margin.right,
      y1: y(10 ** decade), y2: y(10 ** decade), 'class': 'grid'}));
    if (decade % every === 0) {
      svg.appendChild(svgElement('text', {x: margin.left - 4, y: y(10 ** decade) + 4,
        'text-anchor': 'end', 'class': 'axis'}, `1e${decade}`));
    }
  }
  if (Math.floor(high) - Math.ceil(low) < 1) { // under a decade shown: label both ends
    for (const end of [low, high]) {
      svg.appendChild(svgElement('text', {x: margin.left - 4, y: y(10 ** end) + 4,
        'text-anchor': 'end', 'class': 'axis'}, format(10 ** end)));
    }
  }
  runs.forEach((run, r) => {
    const points = [];
    layers.forEach((layer, i) => {
      const value = valueAt(run[column][layer], step);
      if (value > 0) points.push([x(i), y(value), layer, value]);
    });
    const stroke = RUN_COLOURS[r % RUN_COLOURS.length];
    svg.appendChild(svgElement('polyline', {points: points.map((p) => `${p[0]},${p[1]}`)
      .join(' '), fill: 'none', stroke, 'stroke-width': 2, 'data-run': run.run}));
    for (const [px, py, layer, value] of points) {
      const dot = svgElement('circle', {cx: px, cy: py, r: 3, fill: stroke});
      dot.appendChild(svgElement('title', {}, `${run.run}, ${layer}: ${format(value)}`));
      svg.appendChild(dot);
    }
  });
  svg.appendChild(svgElement('text', {x: margin.left, y: height - 6, 'class': 'axis'},
    `input: ${layers[0] ?? ''}`));
  svg.appendChild(svgElement('text', {x: width - margin.right, y: height - 6,
    'text-anchor': 'end', 'class': 'axis'}, `output: ${layers[layers.length - 1] ?? ''}`));
  return svg;
}

function runLegend(runs) {
  const list = element('div', {'class': 'run-legend'});
  runs.forEach((run, r) => {
    const item = element('span', {'class': 'run-key'});
    item.appendChild(element('span', {'class': 'swatch',
      style: `background:${RUN_COLOURS[r % RUN_COLOURS.length]}`}));
    item.appendChild(document.createTextNode(run.run));
    list.appendChild(item);
  });
  return list;
}

// Layers of every run, in order: the longest run's order, others' extra layers appended.
function mergedLayers(runs) {
  const layers = [];
  for (const run of [...runs].sort((a, b) => b.layers.length - a.layers.length)) {
    for (const layer of run.layers) if (!layers.includes(layer)) layers.push(layer);
  }
  return layers;
}

function renderProfiles(container, runs, state, bounds) {
  container.textContent = '';
  const layers = mergedLayers(runs);
  container.appendChild(element('h2', {},
    `Per-layer profile at step ${state.step}: gradient norm, runs side by side`));
  container.appendChild(runLegend(runs));
  container.appendChild(layerChart(runs, layers, 'gradient_norm', state.step, bounds, null));
  container.appendChild(element('h2', {},
    `Update / weight ratio per layer at step ${state.step} (shaded: 1e-4 to 1e-2; line: 1e-3)`));
  const ratioBounds = logBounds(runs, 'update_ratio');
  container.appendChild(layerChart(runs, layers, 'update_ratio', state.step, ratioBounds, BAND));
  const table = element('table', {'class': 'profile'});
  const head = element('tr');
  head.appendChild(element('th', {}, 'layer'));
  for (const run of runs) head.appendChild(element('th', {}, `gradient norm: ${run.run}`));
  for (const run of runs) head.appendChild(element('th', {}, `update ratio: ${run.run}`));
  table.appendChild(head);
  for (const layer of layers) {
    const row = element('tr', {'data-layer': layer});
    row.appendChild(element('td', {}, layer));
    for (const run of runs) {
      row.appendChild(element('td', {}, format(valueAt(run.gradient_norm[layer], state.step))));
    }
    for (const run of runs) {
      const ratio = valueAt(run.update_ratio[layer], state.step);
      const outside = ratio !== null && (ratio < BAND[0] || ratio > BAND[1]);
      row.appendChild(element('td', outside ? {'class': 'outside-band'} : {}, format(ratio)));
    }
    table.appendChild(row);
  }
  container.appendChild(table);
}

export async function render() {
  document.head.appendChild(element('link', {rel: 'stylesheet', href: './static/style.css'}));
  const root = element('div', {id: 'dnnkit'});
  document.body.appendChild(root);
  root.appendChild(element('h1', {}, 'keras-dnnkit: gradient flow and findings'));
  const status = element('p', {'class': 'status'}, 'Loading\u2026');
  root.appendChild(status);
  const response = await fetch('./data');
  const runs = response.ok ? (await response.json()).runs : [];
  if (!runs.length) {
    status.textContent = 'No run with keras-dnnkit gradient diagnostics in this log directory. '
      + 'Train with keras_dnnkit.callbacks.GradientDiagnostics(log_dir) and point '
      + 'tensorboard --logdir at that directory (or its parent).';
    return;
  }
  status.remove();
  const steps = allSteps(runs);
  const state = {run: runs[runs.length - 1].run, step: steps[steps.length - 1]};
  const controls = element('div', {'class': 'controls'});
  const runSelect = element('select', {id: 'dnnkit-run'});
  for (const run of runs) runSelect.appendChild(element('option', {value: run.run}, run.run));
  runSelect.value = state.run;
  const stepInput = element('input', {id: 'dnnkit-step', type: 'range', min: 0,
    max: steps.length - 1, value: steps.length - 1});
  const stepLabel = element('span', {'class': 'step-label'});
  controls.append('run ', runSelect, ' step ', stepInput, stepLabel);
  root.appendChild(controls);
  const findings = element('section', {id: 'findings'});
  const heatmap = element('section', {id: 'heatmap'});
  const profiles = element('section', {id: 'profiles'});
  root.append(findings, heatmap, profiles);
  const bounds = logBounds(runs, 'gradient_norm');
  const update = () => {
    const run = runs.find((r) => r.run === state.run) || runs[0];
    stepLabel.textContent = ` ${state.step}`;
    renderFindings(findings, run);
    renderHeatmap(heatmap, run, bounds, state, (step) => {
      state.step = step;
      stepInput.value = steps.indexOf(step);
      update();
    });
    renderProfiles(profiles, runs, state, bounds);
    root.setAttribute('data-ready', 'true');
  };
  runSelect.addEventListener('change', () => { state.run = runSelect.value; update(); });
  stepInput.addEventListener('input', () => { state.step = steps[+stepInput.value]; update(); });
  update();
}
