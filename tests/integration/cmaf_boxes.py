"""Reads the timing boxes of CMAF (fragmented MP4) tracks the way ISO/IEC 14496-12 defines them.

This is how Media Source Extensions (Chromium, behind hls.js, dash.js and Shaka) place samples:
a fragment's first sample decodes at tfdt, each later one at the previous decode time plus its
duration, and presents at its decode time plus its signed composition offset (trun version 1),
minus the media time of the init segment's edit list when it has one. Only the Python standard
library, and no code of ours: it is an independent reading of the bytes we serve.
"""
import struct


def boxes(data, start=0, end=None):
    """(type, payload start, box end) of each box in DATA[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
            header = 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise ValueError("a %r box runs past its parent" % kind)
        yield kind.decode("latin-1"), at + header, at + size
        at += size


def find(data, path, start=0, end=None):
    """Every (payload start, end) of the boxes at PATH ("moov/trak/mdia/mdhd") in DATA."""
    first, _, rest = path.partition("/")
    found = []
    for kind, payload, box_end in boxes(data, start, end):
        if kind == first:
            found += find(data, rest, payload, box_end) if rest else [(payload, box_end)]
    return found


class Track:
    """The timing facts of a one-track init segment: timescale and edit list."""

    def __init__(self, init):
        (mdhd, _), = find(init, "moov/trak/mdia/mdhd")
        version = init[mdhd]
        self.timescale = struct.unpack_from(">I", init, mdhd + (20 if version == 1 else 12))[0]
        self.edit_media_time = 0  # the presentation shift of a one-entry edit list, in the timescale
        self.edits = []
        for elst, _ in find(init, "moov/trak/edts/elst"):
            version = init[elst]
            count = struct.unpack_from(">I", init, elst + 4)[0]
            at = elst + 8
            for _ in range(count):
                if version == 1:
                    duration, media_time = struct.unpack_from(">Qq", init, at)
                    at += 16
                else:
                    duration, media_time = struct.unpack_from(">Ii", init, at)
                    at += 8
                at += 4  # media rate
                self.edits.append((duration, media_time))
        media = [m for _, m in self.edits if m >= 0]
        if media:
            self.edit_media_time = media[0]
        (trex, _), = find(init, "moov/mvex/trex")
        self.default_duration, self.default_size, self.default_flags = struct.unpack_from(">III", init, trex + 12)


class Sample:
    def __init__(self, dts, cts_offset, duration, key):
        self.dts = dts                  # decode time, in the timescale
        self.cts_offset = cts_offset    # signed composition offset
        self.duration = duration
        self.key = key                  # a sync sample (sample_is_non_sync_sample clear)

    @property
    def pts(self):
        return self.dts + self.cts_offset


class Fragment:
    """One moof+mdat: its tfdt and its samples in decode order."""

    def __init__(self, base_decode_time, samples):
        self.base_decode_time = base_decode_time
        self.samples = samples


def fragments(track, segment):
    """The fragments of a media segment (moof+mdat pairs), read against TRACK's defaults."""
    result = []
    for moof, moof_end in find(segment, "moof"):
        (traf, traf_end), = find(segment, "traf", moof, moof_end)
        (tfhd, _), = find(segment, "tfhd", traf, traf_end)
        flags = struct.unpack_from(">I", segment, tfhd)[0] & 0xFFFFFF
        at = tfhd + 8
        if flags & 0x1:
            at += 8   # base data offset
        if flags & 0x2:
            at += 4   # sample description index
        default_duration, default_flags = track.default_duration, track.default_flags
        if flags & 0x8:
            default_duration = struct.unpack_from(">I", segment, at)[0]
            at += 4
        if flags & 0x10:
            at += 4   # default sample size
        if flags & 0x20:
            default_flags = struct.unpack_from(">I", segment, at)[0]
        (tfdt, _), = find(segment, "tfdt", traf, traf_end)
        version = segment[tfdt]
        base = struct.unpack_from(">Q" if version == 1 else ">I", segment, tfdt + 4)[0]
        samples = []
        dts = base
        for trun, _ in find(segment, "trun", traf, traf_end):
            head = struct.unpack_from(">I", segment, trun)[0]
            version, tr_flags = head >> 24, head & 0xFFFFFF
            count = struct.unpack_from(">I", segment, trun + 4)[0]
            at = trun + 8
            if tr_flags & 0x1:
                at += 4   # data offset
            first_flags = None
            if tr_flags & 0x4:
                first_flags = struct.unpack_from(">I", segment, at)[0]
                at += 4
            for i in range(count):
                duration, sample_flags, offset = default_duration, default_flags, 0
                if tr_flags & 0x100:
                    duration = struct.unpack_from(">I", segment, at)[0]
                    at += 4
                if tr_flags & 0x200:
                    at += 4   # size
                if tr_flags & 0x400:
                    sample_flags = struct.unpack_from(">I", segment, at)[0]
                    at += 4
                if tr_flags & 0x800:
                    offset = struct.unpack_from(">i" if version == 1 else ">I", segment, at)[0]
                    at += 4
                if i == 0 and first_flags is not None:
                    sample_flags = first_flags
                samples.append(Sample(dts, offset, duration, not (sample_flags & 0x10000)))
                dts += duration
        result.append(Fragment(base, samples))
    return result


def presentation(track, segment):
    """(earliest presentation time, whether the first sample in decode order is a sync sample) of a
    media segment in seconds, the edit list applied, as ISO BMFF and MSE read it."""
    samples = [s for f in fragments(track, segment) for s in f.samples]
    if not samples:
        raise ValueError("a media segment without samples")
    earliest = min(s.pts for s in samples)
    return (earliest - track.edit_media_time) / track.timescale, samples[0].key
