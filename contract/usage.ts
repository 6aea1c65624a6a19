// What a frontend team writes against the generated types (openapi-typescript + openapi-fetch):
// create a profile, list referrals, move one along. `make contract` compiles it with
// `tsc --strict`; a schema the document gets wrong (a field, an enum, a path) fails here.
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema";

type ProfileIn =
  paths["/v1/profiles"]["post"]["requestBody"]["content"]["application/json"];
type Transition =
  paths["/v1/referrals/{referral_id}/transitions"]["post"]["requestBody"]["content"]["application/json"];

export function client(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

export async function registerAna(api: ReturnType<typeof client>): Promise<string> {
  const body: ProfileIn = {
    given_names: "Ana",
    first_surname: "Gómez",
    birth_date: "1990-01-01",
    sex: "female",
    nationality: "VEN",
    population_type: "migrant",
    region: "PE-LMA",
  };
  const { data, error, response } = await api.POST("/v1/profiles", {
    body,
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
  });
  if (error !== undefined) {
    throw new Error(`${response.status} ${error.title}: ${error.detail ?? ""}`);
  }
  const id: string = data.id;
  return id;
}

export async function requestedReferrals(api: ReturnType<typeof client>): Promise<string[]> {
  const { data, error } = await api.GET("/v1/referrals", {
    params: { query: { status: "requested", limit: 20 } },
  });
  if (error !== undefined) {
    throw new Error(error.title);
  }
  const next: string | null | undefined = data.next_cursor;
  void next;
  return data.items.map((referral) => referral.id);
}

export async function accept(api: ReturnType<typeof client>, referralId: string,
                             etag: string): Promise<string> {
  const body: Transition = { action: "accept" };
  const { data, error, response } = await api.POST("/v1/referrals/{referral_id}/transitions", {
    params: { path: { referral_id: referralId }, header: { "If-Match": etag } },
    body,
  });
  if (error !== undefined) {
    throw new Error(`${response.status} ${error.title}`);
  }
  return data.status;
}
