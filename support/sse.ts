// Server-sent events as they arrive on a text/event-stream response.
export interface SseFrame {
  event: string
  // Absent when the frame carries no data line (a heartbeat comment, a retry hint).
  data?: string
  comments: string[]
  retry?: number
}

// Returns a function to feed the stream's text to, chunk by chunk as it arrives; each call
// gives back the frames the text completed (a frame ends with a blank line).
export function sseParser (): (text: string) => SseFrame[] {
  let buffer = ''
  return (text) => {
    buffer += text
    const frames: SseFrame[] = []
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      frames.push(parseFrame(buffer.slice(0, end)))
      buffer = buffer.slice(end + 2)
    }
    return frames
  }
}

function parseFrame (block: string): SseFrame {
  const frame: SseFrame = { event: 'message', comments: [] }
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      frame.comments.push(line.slice(1).trim())
      continue
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') frame.event = value
    else if (field === 'data') data.push(value)
    else if (field === 'retry') frame.retry = Number(value)
  }
  if (data.length > 0) frame.data = data.join('\n')
  return frame
}
