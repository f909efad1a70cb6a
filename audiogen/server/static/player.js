// The player: the mix and every stem decoded, started at one AudioContext time so they stay in
// sync. With no stem soloed or muted the mix is heard (the master as written); otherwise the
// stems are, each through its own GainNode.

export class Player {
  // headers: the headers each fetch carries (the server's token, where it has one).
  constructor(headers = () => ({})) {
    this.headers = headers;
    this.context = null;
    this.buffers = {};   // "mix" and each stem group -> AudioBuffer
    this.gains = {};     // the same names -> GainNode
    this.soloed = new Set();
    this.muted = new Set();
    this.sources = [];
    this.startedAt = null;
    this.loopSeconds = null;  // a loop's length: it repeats at the bars, not at its tail
    this.repeat = true;
  }

  get stems() {
    return Object.keys(this.buffers).filter((name) => name !== "mix");
  }

  get duration() {
    return this.buffers.mix ? this.buffers.mix.duration : 0;
  }

  get playing() {
    return this.startedAt !== null;
  }

  // Fetch and decode the mix and the stems: urls maps a name ("mix", "kick"...) to a file URL.
  async load(urls, loopSeconds) {
    this.stop();
    if (!this.context) this.context = new AudioContext();
    const names = Object.keys(urls);
    const decoded = await Promise.all(names.map(async (name) => {
      const answer = await fetch(urls[name], { headers: this.headers() });
      if (!answer.ok) throw new Error(`${name}: ${answer.status}`);
      return this.context.decodeAudioData(await answer.arrayBuffer());
    }));
    this.buffers = {};
    this.gains = {};
    names.forEach((name, i) => {
      this.buffers[name] = decoded[i];
      const gain = this.context.createGain();
      gain.connect(this.context.destination);
      this.gains[name] = gain;
    });
    this.soloed = new Set([...this.soloed].filter((n) => n in this.buffers));
    this.muted = new Set([...this.muted].filter((n) => n in this.buffers));
    this.loopSeconds = loopSeconds;
    this.applyGains();
  }

  // Each stem is heard when soloed, or when nothing is soloed and it is not muted.
  applyGains() {
    const stems = this.stems;
    const mixing = this.soloed.size === 0 && this.muted.size === 0;
    for (const name of stems) {
      const heard = this.soloed.size ? this.soloed.has(name) : !this.muted.has(name);
      this.gains[name].gain.value = !mixing && heard ? 1 : 0;
    }
    if (this.gains.mix) this.gains.mix.gain.value = mixing ? 1 : 0;
  }

  toggle(set, name) {
    if (set.has(name)) set.delete(name); else set.add(name);
    this.applyGains();
  }

  solo(name) { this.toggle(this.soloed, name); }

  mute(name) { this.toggle(this.muted, name); }

  // What each name's gain is now (the tests read it).
  gainValues() {
    return Object.fromEntries(Object.entries(this.gains).map(([n, g]) => [n, g.gain.value]));
  }

  async play() {
    if (!this.buffers.mix) return;
    this.stop();
    await this.context.resume();
    const when = this.context.currentTime + 0.05;  // the same start for every source
    for (const [name, buffer] of Object.entries(this.buffers)) {
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.loop = this.repeat;
      if (this.repeat && this.loopSeconds) source.loopEnd = this.loopSeconds;
      source.connect(this.gains[name]);
      source.start(when);
      this.sources.push(source);
    }
    this.startedAt = when;
    this.sources[0].onended = () => { if (!this.repeat) this.stop(); };
  }

  stop() {
    for (const source of this.sources) {
      source.onended = null;
      try { source.stop(); } catch (e) { /* never started */ }
      source.disconnect();
    }
    this.sources = [];
    this.startedAt = null;
  }

  // Seconds into the beat now, wrapped at the loop (or the whole buffer) when repeating.
  position() {
    if (!this.playing) return 0;
    const t = Math.max(0, this.context.currentTime - this.startedAt);
    if (!this.repeat) return Math.min(t, this.duration);
    return t % (this.loopSeconds || this.duration);
  }
}
