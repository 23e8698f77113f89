// Package proxy is latchkey in front of an app: it decides which requests
// reach the app, and passes the app who is asking.
package proxy
