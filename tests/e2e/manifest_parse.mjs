// The golden manifests of tests/manifest/golden, read by real, independent parsers:
//
//   HLS   m3u8-parser (video.js): every *.m3u8; any parser warning fails. Masters: variants
//         (BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE, AUDIO, URI), the
//         audio group; media playlists: version, target duration (RFC 8216: every EXTINF
//         rounded is at most it, and it is the same in every playlist of a version), EVENT,
//         media sequence 0, START at 0, EXT-X-MAP, /objects/ URLs, ENDLIST iff complete.
//   DASH  every *.mpd, three ways:
//         1. @xmldom/xmldom, strict: well-formed XML in the MPD namespace, children in
//            schema order;
//         2. dash.js 5.2.1 (the version the player tests use) run in Node: its own DashParser,
//            DashManifestModel and TimelineSegmentsGetter — the code that decides, in the
//            browser, which segments exist and whether each one is available yet. Dynamic
//            MPDs are read at several wall-clock times (Date.now replaced): every listed
//            segment must be available shortly after the last change and still days later,
//            even without dash.js's calcFromSegmentTimeline;
//         3. mpd-parser (video.js VHS): template expansion and URL resolution.
//         Then the three views and the HLS playlists of the same version must agree:
//         segment count, durations, URLs, bandwidth, size, codecs, languages.
//
// The browser test (hls.js, dash.js, Shaka in Chromium) checks playback; this one checks
// the text exactly as tests/manifest writes it. Prints one line per file and
// "N passed, N failed"; exits 1 when anything failed, 2 when a parser cannot be loaded.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// CINEVAULT_GOLDEN_DIR reads another directory (to see that a broken file fails).
const GOLDEN_DIR = process.env.CINEVAULT_GOLDEN_DIR ||
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../manifest/golden');

// What each golden scenario is (tests/manifest/golden_test.cpp makes them).
const SCENARIOS = {
  growing: { complete: false, base: '' },
  complete: { complete: true, base: '' },
  no_audio: { complete: true, base: '' },
  two_audio: { complete: false, base: '' },
  base_url: { complete: false, base: 'https://media.example.com' },
};

// dash.js's bundle is built for browsers: its TTML renderer reads a computed style when the
// module loads. These stubs let it load; the parser and segment code never touch them.
if (typeof globalThis.window === 'undefined') globalThis.window = globalThis;
if (typeof globalThis.navigator === 'undefined') {
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'node' }, configurable: true });
}
if (typeof globalThis.document === 'undefined') {
  globalThis.document = { documentElement: {}, createElement: () => ({ style: {} }) };
}
if (typeof globalThis.getComputedStyle === 'undefined') globalThis.getComputedStyle = () => ({});

let M3u8Parser, parseMpd, DOMParser, dashjs;
try {
  ({ Parser: M3u8Parser } = await import('m3u8-parser'));
  ({ parse: parseMpd } = await import('mpd-parser'));
  ({ DOMParser } = await import('@xmldom/xmldom'));
  dashjs = (await import('dashjs')).default;
} catch (error) {
  console.error(`FAIL: cannot load the parsers (run 'npm ci' in tests/e2e): ${error.stack}`);
  process.exit(2);
}

const SHA256 = '[0-9a-f]{64}';
const MPD_NAMESPACE = 'urn:mpeg:dash:schema:mpd:2011';

class CheckError extends Error {}
function check(condition, message) {
  if (!condition) throw new CheckError(message);
}
function near(a, b, tolerance, message) {
  check(Math.abs(a - b) <= tolerance, `${message}: ${a} vs ${b}`);
}
function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------
// HLS

function parseM3u8(text, file) {
  const parser = new M3u8Parser();
  const warnings = [];
  parser.on('warn', (warning) => warnings.push(warning.message));
  parser.push(text);
  parser.end();
  check(warnings.length === 0, `${file}: m3u8-parser warnings: ${warnings.join('; ')}`);
  return parser.manifest;
}

// The scenario's master and media playlists, checked one by one.
function checkHls(scenario, expect, files) {
  const base = escapeRegExp(expect.base);
  const masterFile = `${scenario}_master.m3u8`;
  check(files.has(masterFile), `${scenario}: no ${masterFile}`);
  const master = parseM3u8(files.get(masterFile), masterFile);
  check(master.version === 7, `${masterFile}: EXT-X-VERSION ${master.version}`);
  check(master.independentSegments === true, `${masterFile}: no EXT-X-INDEPENDENT-SEGMENTS`);
  check(master.segments.length === 0, `${masterFile}: a master lists no segments`);

  const playlistUri = new RegExp(`^${base}/videos/([0-9a-f]+)/v(\\d+)/([A-Za-z0-9._~-]+)\\.m3u8$`);
  const media = new Map();  // rendition name -> { manifest, kind }
  let videoId, versionNumber;
  const openMedia = (uri, kind) => {
    const match = playlistUri.exec(uri);
    check(match, `${masterFile}: unexpected playlist URI ${uri}`);
    if (videoId === undefined) [videoId, versionNumber] = [match[1], match[2]];
    check(match[1] === videoId && match[2] === versionNumber, `${masterFile}: ${uri} mixes versions`);
    const file = `${scenario}_${match[3]}.m3u8`;
    check(files.has(file), `${masterFile}: ${uri} has no golden file ${file}`);
    media.set(match[3], { manifest: parseM3u8(files.get(file), file), kind, file });
    return match[3];
  };

  // Audio group.
  const group = master.mediaGroups.AUDIO.audio;
  const audio = [];
  if (group) {
    const entries = Object.entries(group);
    check(entries.length > 0, `${masterFile}: empty audio group`);
    entries.forEach(([name, rendition], index) => {
      check(rendition.default === (index === 0), `${masterFile}: ${name} DEFAULT must be YES on the first only`);
      check(rendition.autoselect === true, `${masterFile}: ${name} AUTOSELECT`);
      const id = openMedia(rendition.uri, 'audio');
      audio.push({ id, name, language: rendition.language });
    });
  }

  // Variants.
  check(master.playlists.length > 0, `${masterFile}: no variant`);
  const variants = [];
  let previousHeight = Infinity;
  for (const variant of master.playlists) {
    const a = variant.attributes;
    check(Number.isInteger(a.BANDWIDTH) && a.BANDWIDTH > 0, `${masterFile}: BANDWIDTH ${a.BANDWIDTH}`);
    check(a.RESOLUTION && a.RESOLUTION.width > 0 && a.RESOLUTION.height > 0, `${masterFile}: RESOLUTION`);
    check(a.RESOLUTION.height <= previousHeight, `${masterFile}: variants must be tallest first`);
    previousHeight = a.RESOLUTION.height;
    check(typeof a['FRAME-RATE'] === 'number' && a['FRAME-RATE'] > 0, `${masterFile}: FRAME-RATE`);
    const codecs = a.CODECS.split(',');
    check(/^avc1\.[0-9a-fA-F]{6}$/.test(codecs[0]), `${masterFile}: video codec ${codecs[0]}`);
    if (group) {
      check(a.AUDIO === 'audio', `${masterFile}: AUDIO="audio" missing`);
      check(codecs.slice(1).every((c) => /^mp4a\./.test(c)) && codecs.length > 1, `${masterFile}: audio codec`);
    } else {
      check(a.AUDIO === undefined && codecs.length === 1, `${masterFile}: audio without audio renditions`);
    }
    if (expect.complete) {
      const average = Number(a['AVERAGE-BANDWIDTH']);
      check(average > 0 && average <= a.BANDWIDTH, `${masterFile}: AVERAGE-BANDWIDTH ${a['AVERAGE-BANDWIDTH']}`);
    } else {
      check(a['AVERAGE-BANDWIDTH'] === undefined, `${masterFile}: AVERAGE-BANDWIDTH before it is measured`);
    }
    const id = openMedia(variant.uri, 'video');
    variants.push({ id, attributes: a });
  }

  // Media playlists.
  let targetDuration;
  for (const [name, { manifest: m, file }] of media) {
    check(m.version === 7, `${file}: EXT-X-VERSION ${m.version}`);
    check(Number.isInteger(m.targetDuration) && m.targetDuration > 0, `${file}: target duration`);
    if (targetDuration === undefined) targetDuration = m.targetDuration;
    check(m.targetDuration === targetDuration, `${file}: target duration differs from the other playlists`);
    check(m.mediaSequence === 0, `${file}: media sequence ${m.mediaSequence}`);
    check(m.playlistType === 'EVENT', `${file}: playlist type ${m.playlistType}`);
    check(m.independentSegments === true, `${file}: no EXT-X-INDEPENDENT-SEGMENTS`);
    check(m.start && m.start.timeOffset === 0, `${file}: EXT-X-START:TIME-OFFSET=0 missing`);
    check(Boolean(m.endList) === expect.complete, `${file}: EXT-X-ENDLIST ${m.endList ? 'present' : 'absent'}`);
    check(m.discontinuityStarts.length === 0, `${file}: discontinuities`);
    check(m.segments.length > 0, `${file}: no segment`);
    const mapUri = m.segments[0].map && m.segments[0].map.uri;
    check(new RegExp(`^${base}/objects/${SHA256}\\.mp4$`).test(mapUri), `${file}: EXT-X-MAP ${mapUri}`);
    for (const segment of m.segments) {
      check(segment.map && segment.map.uri === mapUri, `${file}: every segment uses the same map`);
      check(new RegExp(`^${base}/objects/${SHA256}\\.m4s$`).test(segment.uri), `${file}: segment ${segment.uri}`);
      check(segment.duration > 0, `${file}: duration ${segment.duration}`);
      check(Math.round(segment.duration) <= m.targetDuration, `${file}: EXTINF ${segment.duration} > target`);
    }
    check(new Set(m.segments.map((s) => s.uri)).size === m.segments.length, `${file}: a segment is listed twice`);
    // m3u8-parser also takes "#EXTINF:4.004" without the comma that RFC 8216 requires.
    const extinf = files.get(file).split('\n').filter((line) => line.startsWith('#EXTINF'));
    check(extinf.length === m.segments.length && extinf.every((line) => /^#EXTINF:\d+\.\d{5},$/.test(line)),
      `${file}: EXTINF lines must read #EXTINF:<seconds with 5 decimals>,`);
    media.get(name).durations = m.segments.map((s) => s.duration);
  }
  return { videoId, versionNumber, audio, variants, media };
}

// ---------------------------------------------------------------------------------------
// DASH

// 1. Strict XML. Children must come in the order of ISO 23009-1's schema (the sequences of
// MPDtype, PeriodType, AdaptationSetType, RepresentationType and SegmentTemplateType, with
// the RepresentationBaseType elements first); an element the schema does not allow there fails.
const REPRESENTATION_BASE = ['FramePacking', 'AudioChannelConfiguration', 'ContentProtection', 'OutputProtection',
  'EssentialProperty', 'SupplementalProperty', 'InbandEventStream', 'Switching', 'RandomAccess', 'GroupLabel',
  'Label', 'ProducerReferenceTime', 'ContentPopularityRate', 'Resync'];
const SCHEMA_ORDER = {
  MPD: ['ProgramInformation', 'BaseURL', 'Location', 'PatchLocation', 'ServiceDescription', 'InitializationSet',
    'InitializationGroup', 'InitializationPresentation', 'ContentProtection', 'Period', 'Metrics',
    'EssentialProperty', 'SupplementalProperty', 'UTCTiming', 'LeapSecondInformation'],
  Period: ['BaseURL', 'SegmentBase', 'SegmentList', 'SegmentTemplate', 'AssetIdentifier', 'EventStream',
    'ServiceDescription', 'ContentProtection', 'AdaptationSet', 'Subset', 'SupplementalProperty',
    'EmptyAdaptationSet', 'GroupLabel', 'Preselection'],
  AdaptationSet: [...REPRESENTATION_BASE, 'Accessibility', 'Role', 'Rating', 'Viewpoint', 'ContentComponent',
    'BaseURL', 'SegmentBase', 'SegmentList', 'SegmentTemplate', 'Representation'],
  Representation: [...REPRESENTATION_BASE, 'BaseURL', 'ExtendedBandwidth', 'SubRepresentation', 'SegmentBase',
    'SegmentList', 'SegmentTemplate'],
  SegmentTemplate: ['Initialization', 'RepresentationIndex', 'FailoverContent', 'SegmentTimeline',
    'BitstreamSwitching'],
  SegmentTimeline: ['S'],
};

function checkXml(text, file) {
  const problems = [];
  const document = new DOMParser({
    onError: (level, message) => problems.push(`${level}: ${message}`),
  }).parseFromString(text, 'application/xml');
  check(problems.length === 0, `${file}: XML: ${problems.join('; ')}`);
  const root = document.documentElement;
  check(root.localName === 'MPD' && root.namespaceURI === MPD_NAMESPACE, `${file}: root is not an MPD`);
  const walk = (element) => {
    const order = SCHEMA_ORDER[element.localName];
    let previous = -1;
    for (let node = element.firstChild; node; node = node.nextSibling) {
      if (node.nodeType !== 1) continue;
      check(node.namespaceURI === MPD_NAMESPACE, `${file}: ${node.localName} outside the MPD namespace`);
      if (order) {
        const position = order.indexOf(node.localName);
        check(position >= 0, `${file}: ${node.localName} is not allowed in ${element.localName}`);
        check(position >= previous, `${file}: ${node.localName} comes too late in ${element.localName}`);
        previous = position;
      }
      walk(node);
    }
  };
  walk(root);
  check(document.getElementsByTagNameNS(MPD_NAMESPACE, 'Period').length === 1, `${file}: one Period`);
}

// 2. dash.js.
const dashContext = {};
const dashDebug = dashjs.Debug(dashContext).getInstance();
const dashParser = dashjs.FactoryMaker.getClassFactoryByName('DashParser')(dashContext).create({ debug: dashDebug });
const dashModel = dashjs.FactoryMaker.getSingletonFactoryByName('DashManifestModel')(dashContext).getInstance();
dashModel.setConfig({
  errHandler: { error: (error) => { throw new CheckError(`dash.js error: ${JSON.stringify(error)}`); } },
  BASE64: {},
});
const timelineConverter = dashjs.FactoryMaker.getSingletonFactoryByName('TimelineConverter')(dashContext).getInstance();
timelineConverter.initialize();

function withClock(unixMs, body) {
  const realNow = Date.now;
  Date.now = () => unixMs;
  try {
    return body();
  } finally {
    Date.now = realNow;
  }
}

// Every Representation with the segments dash.js would request, reading the MPD at `nowMs`.
function dashView(text, file, nowMs) {
  return withClock(nowMs, () => {
    const manifest = dashParser.parse(text);
    const mpd = dashModel.getMpd(manifest);
    const dynamic = dashModel.getIsDynamic(manifest);
    const periods = dashModel.getRegularPeriods(mpd);
    check(periods.length === 1 && periods[0].id === '0' && periods[0].start === 0, `${file}: Period`);
    const getter = dashjs.FactoryMaker.getClassFactoryByName('TimelineSegmentsGetter')(dashContext).create(
      { timelineConverter, dashMetrics: {} }, dynamic);
    const adaptations = dashModel.getAdaptationsForPeriod(periods[0]).map((adaptation) => {
      const representations = dashModel.getRepresentationsForAdaptation(adaptation, {}).map((representation) => {
        const segments = [];
        for (let last = null; segments.length < 10000;) {
          const segment = getter.getSegmentByIndex(representation, last);
          if (!segment) break;
          segments.push(segment);
          last = segment;
        }
        return { representation, segments };
      });
      const real = manifest.Period[0].AdaptationSet[adaptation.index];
      return { type: adaptation.type, lang: real.lang, representations };
    });
    return { manifest, mpd, dynamic, adaptations };
  });
}

function checkDash(scenario, expect, files, hls) {
  const file = `${scenario}.mpd`;
  check(files.has(file), `${scenario}: no ${file}`);
  const text = files.get(file);
  checkXml(text, file);

  const first = dashView(text, file, Date.now());
  const { manifest, mpd, dynamic } = first;
  check(dynamic === !expect.complete, `${file}: type ${manifest.type}`);
  const profiles = String(manifest.profiles).split(',');
  check(profiles.includes('urn:mpeg:dash:profile:cmaf:2019') && profiles.includes('urn:mpeg:dash:profile:isoff-live:2011'),
    `${file}: profiles ${manifest.profiles}`);

  const versionUrl = `${expect.base}/videos/${hls.videoId}/v${hls.versionNumber}`;
  // When is "now" for a dynamic MPD: shortly after its last change, and days later.
  let readings = [first];
  if (dynamic) {
    const published = mpd.publishTime.getTime();
    check(mpd.minimumUpdatePeriod === 1, `${file}: minimumUpdatePeriod ${mpd.minimumUpdatePeriod}`);
    check(mpd.availabilityStartTime.getTime() % 1000 === 0, `${file}: availabilityStartTime not whole seconds`);
    check(published >= mpd.availabilityStartTime.getTime(), `${file}: publishTime before availabilityStartTime`);
    check(Number.isFinite(mpd.timeShiftBufferDepth), `${file}: timeShiftBufferDepth`);
    check(Number.isNaN(mpd.mediaPresentationDuration), `${file}: a growing MPD has no duration`);
    const timing = dashModel.getUTCTimingSources(manifest);
    check(timing.length === 1 && timing[0].schemeIdUri === 'urn:mpeg:dash:utc:http-iso:2014' &&
      timing[0].value === `${expect.base}/api/v1/time`, `${file}: UTCTiming ${JSON.stringify(timing)}`);
    readings = [1000, 10 * 60 * 1000, 3 * 24 * 3600 * 1000].map((after) => dashView(text, file, published + after));
  } else {
    check(manifest.minimumUpdatePeriod === undefined && manifest.UTCTiming === undefined &&
      manifest.availabilityStartTime === undefined, `${file}: a static MPD has no live attributes`);
  }

  const videoSets = first.adaptations.filter((a) => a.type === 'video');
  const audioSets = first.adaptations.filter((a) => a.type === 'audio');
  check(videoSets.length === 1, `${file}: ${videoSets.length} video AdaptationSets`);
  check(audioSets.length === hls.audio.length, `${file}: ${audioSets.length} audio AdaptationSets, HLS has ${hls.audio.length}`);
  check(videoSets[0].representations.length === hls.variants.length, `${file}: video Representations vs HLS variants`);
  audioSets.forEach((set, index) => {
    check(set.representations.length === 1, `${file}: one Representation per audio AdaptationSet`);
    const id = set.representations[0].representation.id;
    const hlsAudio = hls.audio.find((a) => a.id === id);
    check(hlsAudio, `${file}: audio ${id} is not in the HLS audio group`);
    check(hls.audio.indexOf(hlsAudio) === index, `${file}: audio order differs from HLS`);
    check(set.lang === hlsAudio.language, `${file}: ${id} lang ${set.lang} vs HLS ${hlsAudio.language}`);
  });
  const maxAudioBandwidth = Math.max(0, ...audioSets.map((s) => s.representations[0].representation.bandwidth));

  let presentationEnd = 0;
  for (const reading of readings) {
    for (const set of reading.adaptations) {
      for (const { representation: r, segments } of set.representations) {
        const where = `${file}: ${r.id}`;
        const hlsMedia = hls.media.get(r.id);
        check(hlsMedia && hlsMedia.kind === set.type, `${where}: no HLS ${set.type} playlist of that name`);
        check(r.segmentInfoType === 'SegmentTimeline', `${where}: ${r.segmentInfoType}`);
        check(r.initialization === `${versionUrl}/${r.id}/init.mp4`, `${where}: initialization ${r.initialization}`);
        check(segments.length === hlsMedia.durations.length,
          `${where}: dash.js finds ${segments.length} available segments, HLS lists ${hlsMedia.durations.length}`);
        let expectedStart = 0;
        segments.forEach((segment, i) => {
          near(segment.presentationStartTime, expectedStart, 1e-6, `${where}: segment ${i} start`);
          near(segment.duration, hlsMedia.durations[i], 0.5e-5 + 1e-9, `${where}: segment ${i} duration vs EXTINF`);
          const ticks = Math.round(segment.mediaStartTime * r.timescale);
          check(segment.media === `${versionUrl}/${r.id}/${ticks}.m4s`, `${where}: media URL ${segment.media}`);
          expectedStart = segment.presentationStartTime + segment.duration;
        });
        presentationEnd = Math.max(presentationEnd, expectedStart);
        if (set.type === 'video') {
          const variant = hls.variants.find((v) => v.id === r.id);
          check(variant, `${where}: not an HLS variant`);
          check(variant.attributes.BANDWIDTH === r.bandwidth + maxAudioBandwidth,
            `${where}: HLS BANDWIDTH ${variant.attributes.BANDWIDTH} vs ${r.bandwidth} + audio ${maxAudioBandwidth}`);
          check(variant.attributes.RESOLUTION.width === r.width && variant.attributes.RESOLUTION.height === r.height,
            `${where}: size`);
          near(variant.attributes['FRAME-RATE'], r.frameRate, 0.0005, `${where}: frame rate`);
          check(variant.attributes.CODECS.split(',')[0] === r.codecs, `${where}: codecs`);
        }
      }
    }
  }
  if (!dynamic) {
    check(mpd.mediaPresentationDuration >= presentationEnd - 1e-9 && mpd.mediaPresentationDuration < presentationEnd + 0.001,
      `${file}: mediaPresentationDuration ${mpd.mediaPresentationDuration}, media ends at ${presentationEnd}`);
  }

  // 3. mpd-parser.
  const timescales = new Map(first.adaptations.flatMap((set) =>
    set.representations.map(({ representation }) => [representation.id, representation.timescale])));
  const manifestUri = `http://127.0.0.1:8080/videos/${hls.videoId}/manifest.mpd`;
  const resolve = (url) => new URL(url, manifestUri).href;
  const now = dynamic ? mpd.publishTime.getTime() + 1000 : Date.now();
  const vhs = parseMpd(text, { manifestUri, NOW: now, clientOffset: 0 });
  const vhsAudio = Object.entries(vhs.mediaGroups.AUDIO.audio || {});
  check(vhs.playlists.length === hls.variants.length, `${file}: mpd-parser finds ${vhs.playlists.length} video playlists`);
  check(vhsAudio.length === hls.audio.length, `${file}: mpd-parser finds ${vhsAudio.length} audio renditions`);
  if (!dynamic) near(vhs.duration, mpd.mediaPresentationDuration, 1e-9, `${file}: mpd-parser duration`);
  const vhsPlaylists = [...vhs.playlists, ...vhsAudio.flatMap(([, rendition]) => rendition.playlists)];
  for (const playlist of vhsPlaylists) {
    const id = playlist.attributes.NAME;
    const where = `${file}: mpd-parser ${id}`;
    const hlsMedia = hls.media.get(id);
    check(hlsMedia, `${where}: no HLS playlist of that name`);
    check(playlist.segments.length === hlsMedia.durations.length, `${where}: ${playlist.segments.length} segments`);
    let ticks = 0;
    playlist.segments.forEach((segment, i) => {
      near(segment.duration, hlsMedia.durations[i], 0.5e-5 + 1e-9, `${where}: segment ${i} duration`);
      check(segment.resolvedUri === resolve(`${versionUrl}/${id}/${ticks}.m4s`), `${where}: ${segment.resolvedUri}`);
      check(segment.map.resolvedUri === resolve(`${versionUrl}/${id}/init.mp4`), `${where}: init ${segment.map.resolvedUri}`);
      ticks += Math.round(segment.duration * timescales.get(id));
    });
  }
}

// ---------------------------------------------------------------------------------------

const files = new Map();
for (const name of fs.readdirSync(GOLDEN_DIR).sort()) {
  files.set(name, fs.readFileSync(path.join(GOLDEN_DIR, name), 'utf8'));
}

let passed = 0;
let failed = 0;
const claimed = new Set();
for (const [scenario, expect] of Object.entries(SCENARIOS)) {
  const mine = [...files.keys()].filter((name) => name.startsWith(`${scenario}_`) || name === `${scenario}.mpd`);
  mine.forEach((name) => claimed.add(name));
  try {
    const hls = checkHls(scenario, expect, files);
    const hlsFiles = new Set([`${scenario}_master.m3u8`, ...[...hls.media.values()].map((m) => m.file)]);
    for (const name of mine) {
      check(name.endsWith('.mpd') || hlsFiles.has(name), `${name}: not reachable from ${scenario}_master.m3u8`);
    }
    checkDash(scenario, expect, files, hls);
    console.log(`ok   ${scenario}: ${mine.join(' ')}`);
    passed += 1;
  } catch (error) {
    console.log(`FAIL ${scenario}: ${error instanceof CheckError ? error.message : error.stack}`);
    failed += 1;
  }
}
for (const name of files.keys()) {
  if (!claimed.has(name)) {
    console.log(`FAIL ${name}: belongs to no scenario known to manifest_parse.mjs`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
